import { authKeyForImageHost, kubernetesAuthKey } from "../registry-protocol/hosts.js";

export interface PlainCredential {
  /**
   * The registry's `host[:port]` as the image reference spells it (`docker.io` for Docker Hub,
   * `ghcr.io:443` if the image says so), never with a scheme: runtimes look credentials up by the
   * host of the image they pull (the kubelet compares ports exactly), whatever the scheme.
   */
  host: string;
  /**
   * The registry's repository path prefix (`acme` for a server `ghcr.io/acme`), `""` for none.
   * Only the Kubernetes secret can say it: Docker's `config.json` and `X-Registry-Auth` are
   * looked up by host alone.
   */
  path: string;
  username: string;
  password: string;
  email: string | null;
}

/**
 * One decrypted credential in every format a container runtime reads. None of them can say that
 * a registry speaks plain HTTP (the pull-credentials answer says so in `registry.insecure`).
 * Exact formats:
 * - Docker Engine `X-Registry-Auth`: base64url WITH `=` padding (Go's `base64.URLEncoding`
 *   rejects unpadded input; Node's "base64url" drops it) of `{username, password, serveraddress}`.
 * - `config.json`: `{"auths": {"<key>": {"auth": base64("user:pass")}}}`, Docker Hub's key being
 *   `https://index.docker.io/v1/`. Keyed by host only, even for a registry with a repository
 *   prefix: the Docker CLI and daemon ignore a path in the key (they would never find it), so
 *   two registries of one host cannot share one `config.json`; each answer is for one image.
 * - A `kubernetes.io/dockerconfigjson` Secret whose `.dockerconfigjson` is base64 of the same
 *   document with `username`/`password`/`email` spelled out, as kubectl writes it, but keyed by
 *   `host/path` for a registry with a prefix: the kubelet matches paths (`kubernetesAuthKey`),
 *   so secrets of several registries on one host can be used together.
 */
export function runtimeAuth(credential: PlainCredential, secretName: string) {
  const key = authKeyForImageHost(credential.host);
  // Buffer.from(text) encodes UTF-8 (its default; naming it would only add a mutant no test can see).
  const basic = Buffer.from(`${credential.username}:${credential.password}`).toString("base64");
  const email = credential.email ? { email: credential.email } : {};
  const dockerConfigJson = {
    auths: {
      [kubernetesAuthKey(credential.host, credential.path)]: { username: credential.username, password: credential.password, ...email, auth: basic },
    },
  };
  return {
    server: credential.host,
    x_registry_auth: paddedBase64Url(
      JSON.stringify({
        username: credential.username,
        password: credential.password,
        serveraddress: key,
      }),
    ),
    docker_config: { auths: { [key]: { auth: basic, ...email } } },
    kubernetes_secret: {
      apiVersion: "v1" as const,
      kind: "Secret" as const,
      type: "kubernetes.io/dockerconfigjson" as const,
      metadata: { name: secretName },
      data: { ".dockerconfigjson": Buffer.from(JSON.stringify(dockerConfigJson)).toString("base64") },
    },
  };
}

/** RFC 4648 §5 with padding: standard base64 with the URL alphabet swapped in. */
export function paddedBase64Url(text: string): string {
  return Buffer.from(text).toString("base64").replace(/\+/g, "-").replace(/\//g, "_");
}
