/**
 * Registry server normalisation: one spelling per registry, so that "is this the same registry?"
 * is a string comparison.
 *
 * What is stored (the `server` column, and what `normaliseServer` returns):
 * - for a registry spoken to over HTTPS (the default, and what an `https://` prefix says), the
 *   bare, lowercase `host[:port]`: no scheme, no trailing slash, no userinfo;
 * - for a registry spoken to over plain HTTP (an `http://` prefix), `http://host[:port]`: the
 *   scheme is kept, so that everyone who reads the server (the API, a provisioner) sees that
 *   it is not https. Whether such a server may be saved is the operator's call
 *   (`MODBOX_INSECURE_REGISTRIES`, see insecure-registries.ts), not this file's;
 * - optionally followed by a **repository path prefix**, `/acme` or `/acme/team`: one host can
 *   serve several organisations with different credentials (`ghcr.io/acme`, `ghcr.io/other`).
 *   The prefix follows the repository path grammar of image references (repository-path.ts:
 *   lowercase components, no empty component, no trailing slash, no tag or digest), and covers
 *   the repositories equal to it or under it at a segment boundary (`isUnderPrefix`). Docker
 *   Hub's prefixes are compared with canonical repositories (`ubuntu` is `library/ubuntu`). A
 *   path of exactly `/v1` or `/v2` (with or without a trailing slash, any case) is a pasted API
 *   root, not a prefix: it is dropped, as before prefixes existed;
 * - the scheme's default port is dropped: `ghcr.io:443` is `ghcr.io`, `http://host:80` is
 *   `http://host` (the same endpoint, though Docker would spell them as two names for it),
 *   except after a single-label name (`myregistry:443` stays: see below);
 * - Docker Hub, whatever the spelling (`docker.io`, `index.docker.io`, `registry-1.docker.io`,
 *   `registry.hub.docker.com`, `https://index.docker.io/v1/`, `docker.io:443`), as `docker.io`,
 *   its canonical domain in image references. The host actually contacted is derived from it
 *   (`apiHost`), and so are the `config.json` key (`configKey`) and the `X-Registry-Auth` server
 *   address (`serverAddress`). Docker Hub over http is refused: it only speaks https;
 * - an IPv4 address only as four canonical decimal octets; an IPv6 address only in brackets, in
 *   its RFC 5952 form (`[::1]:5000`);
 * - any other port as written (`ghcr.io:5000` is another registry than `ghcr.io`).
 *
 * Refused rather than repaired: other schemes, queries, fragments, userinfo, whitespace, trailing
 * dots, non-ASCII hosts, a path that is not a repository prefix (uppercase, `//`, a trailing `/`,
 * a `:tag` or `@digest`), and every numeric host form that is not a dotted quad (`2130706433`,
 * `0177.0.0.1`, `0x7f.0.0.1`, `127.1`): URL parsers and resolvers read those as IP addresses, so
 * they are a classic way around address allow-lists (SSRF).
 * A single-label host (`myregistry`) is refused unless it has a port or is `localhost`: Docker reads
 * `myregistry/app` as a Docker Hub namespace, so no image could ever name that registry.
 *
 * Reasons are short and generic: they name the rule, never echo the input.
 */
import { checkRepositoryPath, isUnderPrefix, NAME_TOTAL_LENGTH_MAX } from "./repository-path.js";

/** Canonical Docker Hub domain, as stored and as used in canonical image references. */
export const DOCKER_HUB = "docker.io";
/** The host that serves Docker Hub's registry v2 API. */
export const DOCKER_HUB_API_HOST = "registry-1.docker.io";
/** Docker Hub's key in `config.json` `auths` and `X-Registry-Config`, and the Docker CLI's `serveraddress`. */
export const DOCKER_HUB_CONFIG_KEY = "https://index.docker.io/v1/";
/** Every spelling of Docker Hub that is stored as `docker.io`. */
export const DOCKER_HUB_ALIASES: readonly string[] = [
  "docker.io",
  "index.docker.io",
  "registry-1.docker.io",
  "registry.hub.docker.com",
];

const MAX_HOSTNAME_LENGTH = 253;
const MAX_LABEL_LENGTH = 63;
const MAX_INPUT_LENGTH = 512;

export type HostKind = "dns" | "ipv4" | "ipv6";

/** A validated `host[:port]`; `host` is lowercase and carries its brackets when it is IPv6. */
export interface HostAndPort {
  host: string;
  port?: number;
  kind: HostKind;
}

export type HostResult = ({ ok: true } & HostAndPort) | { ok: false; reason: string };

/** How a registry is spoken to: `https` unless its server was written `http://…`. */
export type ServerScheme = "https" | "http";

export type NormaliseResult =
  | {
      ok: true;
      /** The stored form: `host[:port][/path]` (https) or `http://host[:port][/path]`. */
      server: string;
      scheme: ServerScheme;
      /** `host[:port]` without the scheme (and without its default port): what image references name. */
      host: string;
      /** The repository path prefix without slashes around it (`acme/team`); `""` when there is none. */
      path: string;
    }
  | { ok: false; reason: string };

/** The port each scheme uses when none is written, dropped from the stored form. */
const DEFAULT_PORTS: Readonly<Record<ServerScheme, number>> = { https: 443, http: 80 };

/**
 * Normalises what a user typed as a registry server to the stored form (see the top of the file).
 *
 * @example
 * normaliseServer(" https://GHCR.io/ ")            // { ok: true, server: "ghcr.io", scheme: "https", host: "ghcr.io", path: "" }
 * normaliseServer("ghcr.io:443")                   // { ok: true, server: "ghcr.io", … }
 * normaliseServer("https://GHCR.io:443/acme")      // { ok: true, server: "ghcr.io/acme", scheme: "https", host: "ghcr.io", path: "acme" }
 * normaliseServer("https://index.docker.io/v1/")   // { ok: true, server: "docker.io", … }
 * normaliseServer("http://Registry.lan:5000/")     // { ok: true, server: "http://registry.lan:5000", scheme: "http", host: "registry.lan:5000", path: "" }
 * normaliseServer("http://0x7f.0.0.1")             // { ok: false, reason: "IPv4 addresses must be …" }
 */
export function normaliseServer(input: string): NormaliseResult {
  if (typeof input !== "string") return fail("server must be a string");
  let rest = input.trim();
  if (rest === "") return fail("server is empty");
  if (rest.length > MAX_INPUT_LENGTH) return fail(`server must be at most ${MAX_INPUT_LENGTH} characters`);
  if (/[\s\u0000-\u001f\u007f]/.test(rest)) return fail("server must not contain whitespace or control characters");
  if (rest.includes("\\")) return fail("server must not contain a backslash");

  let scheme: ServerScheme = "https";
  const prefix = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(rest);
  if (prefix) {
    const name = prefix[1]!.toLowerCase();
    if (name !== "https" && name !== "http") return fail("only an https:// or http:// prefix is allowed");
    scheme = name;
    rest = rest.slice(prefix[0].length);
  }

  if (rest.includes("?")) return fail("server must not contain a query (?)");
  if (rest.includes("#")) return fail("server must not contain a fragment (#)");

  const slash = rest.indexOf("/");
  const authority = slash === -1 ? rest : rest.slice(0, slash);
  const path = repositoryPrefix(slash === -1 ? "" : rest.slice(slash));
  if (authority.includes("@")) return fail("server must not contain a user name (user@host)");

  const parsed = parseHostAndPort(authority);
  if (!parsed.ok) return parsed;
  if (parsed.kind === "dns" && parsed.port === undefined && !parsed.host.includes(".") && parsed.host !== "localhost") {
    return fail("a registry host needs a dot, a port or to be localhost (Docker reads a bare name as a Docker Hub namespace)");
  }
  const host = formatServer(parsed, scheme);
  if (scheme === "http" && host === DOCKER_HUB) return fail("Docker Hub is served over https only: write the server without http://");
  if (!path.ok) return path;
  const named = path.path === "" ? host : `${host}/${path.path}`;
  // Only a prefix is held to the image name limit: a bare host keeps the host rules it always had.
  if (path.path !== "" && named.length > NAME_TOTAL_LENGTH_MAX) {
    return fail(`server with its repository path must be at most ${NAME_TOTAL_LENGTH_MAX} characters (the longest image name)`);
  }
  return { ok: true, server: scheme === "http" ? `http://${named}` : named, scheme, host, path: path.path };
}

/** What may follow the host without being a repository prefix: nothing, `/`, or a pasted API root. */
const API_ROOTS = new Set(["", "/", "/v1", "/v1/", "/v2", "/v2/"]);

/** The repository prefix in what follows the host (`/acme/team` → `acme/team`), or why it is not one. */
function repositoryPrefix(text: string): { ok: true; path: string } | { ok: false; reason: string } {
  if (API_ROOTS.has(text.toLowerCase())) return { ok: true, path: "" };
  const path = text.slice(1);
  if (path.endsWith("/")) return fail("a repository path after the host must not end with /");
  if (/[:@]/.test(path)) return fail("a repository path after the host names a namespace or repository, never a :tag or @digest");
  const reason = checkRepositoryPath(path);
  return reason === undefined ? { ok: true, path } : fail(`after the host: ${reason}`);
}

/**
 * Validates a bare `host[:port]` (no scheme, no path) and lowercases it. Docker Hub aliases are
 * *not* collapsed here (see `normaliseServer`); IPv6 addresses come back in RFC 5952 form.
 * Shared by `normaliseServer` and the image reference parser, so both accept the same hosts.
 */
export function parseHostAndPort(input: string): HostResult {
  let hostPart: string;
  let portPart: string | undefined;

  if (input.startsWith("[")) {
    const close = input.indexOf("]");
    if (close === -1) return fail("IPv6 address is missing its closing bracket");
    const after = input.slice(close + 1);
    if (after !== "" && !after.startsWith(":")) return fail("only :port may follow an IPv6 address");
    const ipv6 = parseIPv6(input.slice(1, close));
    if (ipv6 === undefined) return fail("IPv6 address is not valid");
    if (after !== "") {
      const port = parsePort(after.slice(1));
      if (!port.ok) return port;
      return { ok: true, host: `[${ipv6}]`, port: port.port, kind: "ipv6" };
    }
    return { ok: true, host: `[${ipv6}]`, kind: "ipv6" };
  }

  const colons = input.split(":").length - 1;
  if (colons > 1) return fail("IPv6 addresses must be written in brackets, e.g. [::1]:5000");
  if (colons === 1) {
    const at = input.indexOf(":");
    hostPart = input.slice(0, at);
    portPart = input.slice(at + 1);
  } else {
    hostPart = input;
  }

  if (hostPart === "") return fail("host is empty");
  const host = hostPart.toLowerCase();
  const checked = checkHostname(host);
  if (!checked.ok) return checked;

  if (portPart !== undefined) {
    const port = parsePort(portPart);
    if (!port.ok) return port;
    return { ok: true, host, port: port.port, kind: checked.kind };
  }
  return { ok: true, host, kind: checked.kind };
}

/**
 * True when both servers normalise to the same stored form (so all Docker Hub aliases are equal,
 * and `ghcr.io:443` is `ghcr.io`). An invalid server is never the same as anything; an http
 * server is never the same as an https one.
 *
 * @example sameRegistry("https://index.docker.io/v1/", "registry-1.docker.io") // true
 */
export function sameRegistry(a: string, b: string): boolean {
  const left = normaliseServer(a);
  const right = normaliseServer(b);
  // Stryker disable next-line LogicalOperator: a refused server has no `server`, so when only one is refused the comparison below is false too; the test narrows the types
  if (!left.ok || !right.ok) return false;
  return left.server === right.server;
}

/**
 * True when the registry stored as `server` serves images whose reference names `imageHost`
 * (`host[:port]` as in `host:5000/team/app`; references carry no scheme). The registry's scheme
 * decides which port is the default one: `ghcr.io:443/org/app` is served by `ghcr.io`, and
 * `registry.lan:80/app` by `http://registry.lan`, but `registry.lan:443/app` is not served by
 * `http://registry.lan` (that would be port 80).
 *
 * @example servesImageHost("ghcr.io", "ghcr.io:443") // true
 * @example servesImageHost("http://registry.lan:5000", "registry.lan:5000") // true
 * @example servesImageHost("registry.lan:5000", "registry.lan:5000") // true (https)
 */
export function servesImageHost(server: string, imageHost: string): boolean {
  // A reference's host has no scheme (`https://…`) and no path: either would bring a slash.
  if (imageHost.includes("/")) return false;
  const registry = normaliseServer(server);
  // Stryker disable next-line ConditionalExpression: an invalid server has no host, so the comparison below is false anyway
  if (!registry.ok) return false;
  const image = normaliseServer(registry.scheme === "http" ? `http://${imageHost}` : imageHost);
  return image.ok && image.host === registry.host;
}

/**
 * True when the registry stored as `server` serves the image `imageHost/repository`: its host is
 * served (`servesImageHost`) and its repository lies under the server's repository prefix, at a
 * segment boundary (`ghcr.io/acme` serves `ghcr.io/acme/app`, not `ghcr.io/acmecorp/app`).
 *
 * @example servesImage("ghcr.io/acme", "ghcr.io:443", "acme/app") // true
 * @example servesImage("ghcr.io/acme", "ghcr.io", "acmecorp/app") // false
 * @example servesImage("docker.io/library", "docker.io", "library/ubuntu") // true
 */
export function servesImage(server: string, imageHost: string, repository: string): boolean {
  const registry = normaliseServer(server);
  return registry.ok && servesImageHost(server, imageHost) && isUnderPrefix(repository, registry.path);
}

/** The repository path prefix of a (stored) server, `""` when it has none. Throws on a server that does not normalise. */
export function serverPath(server: string): string {
  return requireNormalised(server).path;
}

/** `https` unless the (stored) server was written `http://…`. Throws on a server that does not normalise. */
export function serverScheme(server: string): ServerScheme {
  return requireNormalised(server).scheme;
}

/** True when the server is Docker Hub under any of its names, with or without a repository prefix. */
export function isDockerHub(server: string): boolean {
  const normalised = normaliseServer(server);
  return normalised.ok && normalised.host === DOCKER_HUB;
}

/**
 * The `host[:port]` to contact for the registry HTTP API v2 (without the scheme: see
 * `serverScheme`): `registry-1.docker.io` for Docker Hub, the server's host otherwise. Throws on a
 * server that does not normalise (a programming error: stored servers always do).
 */
export function apiHost(server: string): string {
  const { host } = requireNormalised(server);
  return host === DOCKER_HUB ? DOCKER_HUB_API_HOST : host;
}

/**
 * The key of the registry's entry in `config.json` `auths` (and in `X-Registry-Config`):
 * `https://index.docker.io/v1/` for Docker Hub, the bare `host[:port]` otherwise, also for an
 * http registry: runtimes look credentials up by host, and some (the kubelet) do not strip a
 * scheme from the image side. Never with the server's repository prefix: the Docker CLI and
 * daemon look `auths` up by host only, so a key with a path would never be found. (For an
 * image whose reference spells the default port, `ghcr.io:443/org/app`, runtimes look up
 * `ghcr.io:443`: see `authKeyForImageHost`.)
 */
export function configKey(server: string): string {
  const { host } = requireNormalised(server);
  return host === DOCKER_HUB ? DOCKER_HUB_CONFIG_KEY : host;
}

/**
 * The key under which runtimes look up the credentials of an image whose reference names
 * `imageHost` (`ghcr.io`, `ghcr.io:443`, `registry.lan:5000`), spelled as the reference spells it:
 * the Docker CLI and containers/image compare the host with its port as written, and the kubelet
 * compares ports exactly, so `ghcr.io:443/org/app` needs the key `ghcr.io:443`. Docker Hub's key is
 * `https://index.docker.io/v1/` (image references name it `docker.io`).
 */
export function authKeyForImageHost(imageHost: string): string {
  return imageHost === DOCKER_HUB ? DOCKER_HUB_CONFIG_KEY : imageHost;
}

/**
 * The key of a Kubernetes `dockerconfigjson` secret for a registry with the repository prefix
 * `path`, for an image whose reference names `imageHost`. The kubelet's keyring, unlike Docker,
 * matches keys with a path against the image's name (same host and port, path a prefix; the
 * longest key first), so a prefixed registry is keyed `host/path` (`ghcr.io/acme`; Docker Hub
 * `docker.io/acme`: the kubelet compares with the canonical name `docker.io/acme/app`). Without
 * a prefix the key is the one runtimes look up by host (`authKeyForImageHost`).
 *
 * @example kubernetesAuthKey("ghcr.io:443", "acme") // "ghcr.io:443/acme"
 * @example kubernetesAuthKey("docker.io", "")       // "https://index.docker.io/v1/"
 */
export function kubernetesAuthKey(imageHost: string, path: string): string {
  return path === "" ? authKeyForImageHost(imageHost) : `${imageHost}/${path}`;
}

/**
 * The `serveraddress` of a Docker Engine `X-Registry-Auth` header. wire-formats.md: the server
 * without a scheme (`ghcr.io`, `registry.example.com:5000`). Docker Hub is the one exception: the
 * Docker CLI sends its legacy index URL `https://index.docker.io/v1/` (the same string as its
 * config key), so we do too. The daemon authenticates a pull with the username and password either
 * way; the address matters for `/auth` and for credential lookups keyed by it.
 */
export function serverAddress(server: string): string {
  return configKey(server);
}

// ---------------------------------------------------------------------------------------------

function fail(reason: string): { ok: false; reason: string } {
  return { ok: false, reason };
}

function requireNormalised(server: string): Extract<NormaliseResult, { ok: true }> {
  const normalised = normaliseServer(server);
  if (!normalised.ok) throw new TypeError(`invalid registry server: ${normalised.reason}`);
  return normalised;
}

/**
 * `host[:port]` without the scheme's default port; Docker Hub's aliases as `docker.io`. A
 * single-label name keeps even the default port (`myregistry:443`): the port is what makes it a
 * registry host rather than a Docker Hub namespace (see `normaliseServer`).
 */
function formatServer(parsed: HostAndPort, scheme: ServerScheme): string {
  const needsPort = parsed.kind === "dns" && !parsed.host.includes(".") && parsed.host !== "localhost";
  if (parsed.port !== undefined && (parsed.port !== DEFAULT_PORTS[scheme] || needsPort)) return `${parsed.host}:${parsed.port}`;
  return DOCKER_HUB_ALIASES.includes(parsed.host) ? DOCKER_HUB : parsed.host;
}

function parsePort(text: string): { ok: true; port: number } | { ok: false; reason: string } {
  if (!/^[1-9][0-9]{0,4}$/.test(text)) return fail("port must be a number from 1 to 65535 without leading zeros");
  const port = Number(text);
  if (port > 65535) return fail("port must be a number from 1 to 65535 without leading zeros");
  return { ok: true, port };
}

const IPV4_REASON = "IPv4 addresses must be four decimal octets 0-255 without leading zeros";
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** `host` is lowercase, without brackets or port. */
function checkHostname(host: string): { ok: true; kind: "dns" | "ipv4" } | { ok: false; reason: string } {
  if (/[^\x21-\x7e]/.test(host)) return fail("host must be ASCII (write international names in punycode, xn--)");
  if (host.endsWith(".")) return fail("host must not end with a dot");
  const labels = host.split(".");
  const last = labels[labels.length - 1]!;
  // WHATWG URL rule: a host whose last label is a number (decimal or 0x-hex) is an IPv4 address.
  // Only the canonical dotted quad is accepted; the other forms are SSRF disguises.
  if (/^(?:[0-9]+|0x[0-9a-f]*)$/.test(last)) {
    if (labels.length !== 4 || !labels.every(isCanonicalOctet)) {
      return fail(IPV4_REASON);
    }
    return { ok: true, kind: "ipv4" };
  }
  if (host.length > MAX_HOSTNAME_LENGTH) return fail(`host must be at most ${MAX_HOSTNAME_LENGTH} characters`);
  for (const label of labels) {
    if (label === "") return fail("host must not contain empty labels (..)");
    if (label.length > MAX_LABEL_LENGTH) return fail(`each host label must be at most ${MAX_LABEL_LENGTH} characters`);
    if (!LABEL.test(label)) {
      return fail("host labels may contain only letters, digits and inner hyphens");
    }
  }
  return { ok: true, kind: "dns" };
}

/**
 * Parses the text between the brackets of an IPv6 literal (RFC 4291 §2.2, no zone id) and returns
 * its RFC 5952 text (lowercase, no leading zeros, longest zero run as `::`, hex only — the WHATWG
 * URL serialisation), or undefined.
 */
export function parseIPv6(text: string): string | undefined {
  // parseGroups refuses an empty group and any character but hex digits (and a final dotted quad),
  // so an empty text, a zone id, a second `::` or a `:::` all come back undefined from it.
  const at = text.indexOf("::");
  if (at === -1) {
    const groups = parseGroups(text, true);
    return groups?.length === 8 ? formatIPv6(groups) : undefined;
  }
  const head = parseGroups(text.slice(0, at), false);
  const tail = parseGroups(text.slice(at + 2), true);
  if (head === undefined || tail === undefined || head.length + tail.length > 7) return undefined;
  return formatIPv6([...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail]);
}

/** Colon-separated 16-bit groups; a dotted quad may end the address (it counts as two groups). */
function parseGroups(side: string, ipv4AllowedAtEnd: boolean): number[] | undefined {
  if (side === "") return [];
  const parts = side.split(":");
  const out: number[] = [];
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (part.includes(".")) {
      if (!ipv4AllowedAtEnd || i !== parts.length - 1) return undefined;
      const octets = part.split(".");
      if (octets.length !== 4 || !octets.every(isCanonicalOctet)) return undefined;
      const [a, b, c, d] = octets.map(Number) as [number, number, number, number];
      out.push((a << 8) | b, (c << 8) | d);
    } else {
      if (!/^[0-9a-fA-F]{1,4}$/.test(part)) return undefined;
      out.push(parseInt(part, 16));
    }
  }
  return out;
}

function isCanonicalOctet(text: string): boolean {
  return /^(?:0|[1-9][0-9]{0,2})$/.test(text) && Number(text) <= 255;
}

function formatIPv6(groups: number[]): string {
  // Longest run of two or more zero groups; the first one wins a tie (RFC 5952 §4.2).
  let bestStart = -1;
  let bestLength = 1;
  // Stryker disable next-line EqualityOperator: groups[8] is undefined, not 0, so i = 8 only steps past the end
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (groups[j] === 0) j++; // groups[8] is undefined: a run ends at the last group
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart === -1) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLength).join(":")}`;
}
