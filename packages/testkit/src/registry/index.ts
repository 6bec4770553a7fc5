/**
 * Test harness: a real private registry (CNCF distribution 2.8, Basic or Bearer auth, TLS with a
 * throwaway CA) and a real client (skopeo), to prove end to end that pull credentials pull.
 * See registry-harness.test.ts for usage.
 */
export * from "../certificates.js";
export * from "./token-server.js";
export * from "./registry.js";
export * from "./oci-image.js";
export * from "./skopeo.js";
