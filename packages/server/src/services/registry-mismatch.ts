import { servesImage, servesImageHost } from "../registry-protocol/hosts.js";
import { canonicalName, referenceServer, type ImageReference } from "../registry-protocol/reference.js";

/** Why a registry's credentials must not pull an image, in words, with the two names compared. */
export interface RegistryMismatch {
  detail: string;
  extensions: { image_host: string; registry_server: string };
}

/**
 * Null when the registry stored as `registryServer` serves the image; else why not. A registry's
 * credentials are for its server only: handing them to another host would leak them, and using
 * them for a repository outside the server's prefix would pull with another organisation's
 * credentials (or fail with a puzzling 401). Linking refuses it (422), pulls refuse it (409)
 * should the registry's server have changed since.
 *
 * The image's host matches with or without the default port of the registry's scheme
 * (`ghcr.io:443/org/app` is served by `ghcr.io`); a repository prefix matches at a path-segment
 * boundary (`ghcr.io/acme` serves `ghcr.io/acme/app`, not `ghcr.io/acmecorp/app`).
 */
export function registryMismatch(ref: Pick<ImageReference, "domain" | "port" | "repository">, registryServer: string): RegistryMismatch | null {
  const imageHost = referenceServer(ref);
  if (servesImage(registryServer, imageHost, ref.repository)) return null;
  const extensions = { image_host: imageHost, registry_server: registryServer };
  if (!servesImageHost(registryServer, imageHost)) {
    return {
      detail:
        `The image is hosted on ${imageHost}, but the registry's server is ${registryServer}: ` +
        `link a registry for ${imageHost}, or use an image from ${registryServer}.`,
      extensions,
    };
  }
  const imageName = canonicalName(ref);
  return {
    detail:
      `The image ${imageName} is not under the registry's server ${registryServer} (its repository path must be ` +
      `the server's path or lie under it, segment by segment): link a registry for ${imageHost} or for a path ` +
      `that ${imageName} starts with, or use an image under ${registryServer}/.`,
    extensions,
  };
}
