/**
 * A fake of Google's OAuth 2.0 token endpoint for service accounts (the JWT bearer grant), so
 * google-auth-library can be pointed at it (MODBOX_GCP_TOKEN_ENDPOINT): a form POST of
 * `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<JWT>`, answered
 * `{access_token, expires_in, token_type}`. The assertion is checked as Google checks it: an RS256
 * signature by the account's registered public key, `iss` = the account, `aud` = Google's token
 * URL, a scope, and a lifetime that has not ended; otherwise `400 invalid_grant`.
 *
 * Tests make the account's key pair with node:crypto (`serviceAccountKey`): no key is committed.
 */
import { createPublicKey, generateKeyPairSync, randomBytes, verify, type KeyObject } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

export const GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token";

export interface FakeGoogle {
  /** `http://127.0.0.1:<port>/token` */
  tokenEndpoint: string;
  /** Registers an account's public key (`serviceAccountKey(...).publicKey`). */
  addAccount(clientEmail: string, publicKey: KeyObject): void;
  /** Deletes an account's key: its assertions fail from then on, as a deleted key's do. */
  removeAccount(clientEmail: string): void;
  calls: Array<{ iss: string | null; scope: string | null; status: number }>;
  close(): Promise<void>;
}

/** A service account's JSON key, as Google issues it, with a key pair made now. */
export function serviceAccountKey(clientEmail: string, tokenUri = GOOGLE_TOKEN_URL): { json: string; publicKey: KeyObject } {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const json = JSON.stringify({
    type: "service_account",
    project_id: "modbox-test",
    private_key_id: randomBytes(20).toString("hex"),
    private_key: privateKey.export({ type: "pkcs8", format: "pem" }),
    client_email: clientEmail,
    client_id: String(Date.now()),
    token_uri: tokenUri,
  });
  return { json, publicKey: createPublicKey(publicKey.export({ type: "spki", format: "pem" })) };
}

export async function startFakeGoogle(options: { accessToken: string; lifetimeSeconds?: number }): Promise<FakeGoogle> {
  const accounts = new Map<string, KeyObject>();
  const calls: FakeGoogle["calls"] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const form = new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
      const call: FakeGoogle["calls"][number] = { iss: null, scope: null, status: 400 };
      calls.push(call);
      const answer = (status: number, body: object) => {
        call.status = status;
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(body));
      };
      const refuse = (description: string) => answer(400, { error: "invalid_grant", error_description: description });
      if (req.method !== "POST" || form.get("grant_type") !== "urn:ietf:params:oauth:grant-type:jwt-bearer") return answer(400, { error: "unsupported_grant_type" });
      const [header, payload, signature] = (form.get("assertion") ?? "").split(".");
      if (!header || !payload || !signature) return refuse("Invalid JWT.");
      const decode = (part: string) => JSON.parse(Buffer.from(part, "base64url").toString("utf8")) as Record<string, unknown>;
      const claims = decode(payload);
      call.iss = typeof claims.iss === "string" ? claims.iss : null;
      call.scope = typeof claims.scope === "string" ? claims.scope : null;
      if (decode(header).alg !== "RS256") return refuse("Invalid JWT algorithm.");
      const key = accounts.get(String(claims.iss));
      if (!key) return refuse("Invalid grant: account not found");
      if (!verify("RSA-SHA256", Buffer.from(`${header}.${payload}`), key, Buffer.from(signature, "base64url"))) return refuse("Invalid JWT Signature.");
      const nowSeconds = Math.floor(Date.now() / 1000);
      if (claims.aud !== GOOGLE_TOKEN_URL || typeof claims.exp !== "number" || claims.exp <= nowSeconds || !call.scope) return refuse("Invalid JWT: claims.");
      answer(200, { access_token: options.accessToken, expires_in: options.lifetimeSeconds ?? 3599, token_type: "Bearer" });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    tokenEndpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`,
    addAccount: (email, key) => void accounts.set(email, key),
    removeAccount: (email) => void accounts.delete(email),
    calls,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
