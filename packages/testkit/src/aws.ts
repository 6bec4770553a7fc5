/**
 * A fake of the two AWS APIs an `aws_ecr` registry needs, speaking their real wire protocols so
 * the real AWS SDK can be pointed at it (MODBOX_AWS_STS_ENDPOINT, MODBOX_AWS_ECR_ENDPOINT):
 *
 * - STS `AssumeRole` (awsQuery: a form POST, an XML answer), checking the caller, the role and
 *   its `ExternalId`, and minting session credentials;
 * - ECR `GetAuthorizationToken` (awsJson1_1), answering `AWS:<password>` in base64: the password
 *   is what the test's registry accepts for the user `AWS`, so the token really pulls.
 *
 * Every request's SigV4 signature is verified with the secret the fake knows for its access key
 * (recomputed with @smithy/signature-v4, the signer the SDK itself uses): a request signed with
 * the wrong secret, a revoked key or an expired session is refused the way AWS refuses it. Plain
 * HTTP on 127.0.0.1; the clock is the test's, so token lifetimes follow the test's time.
 */
import { createHash, createHmac, randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { SignatureV4 } from "@smithy/signature-v4";

export interface FakeAwsOptions {
  /** The password the ECR tokens carry (the registry's password for the user `AWS`). */
  registryPassword: string;
  /** The test's clock (default: real time). */
  now?: () => Date;
  /** How long an ECR token lives (default 12 hours, as AWS's). */
  tokenLifetimeMs?: number;
}

export interface FakeAwsRole {
  /** The access key ids allowed to assume it (the server's identity). */
  trustedKeyIds: string[];
  /** The `ExternalId` its trust policy requires. */
  externalId: string;
}

export interface FakeAws {
  /** `http://127.0.0.1:<port>`: both APIs (told apart by the request). */
  endpoint: string;
  /** Adds an IAM user's key pair. */
  addAccessKey(accessKeyId: string, secretAccessKey: string): void;
  /** Deactivates a key pair: AWS then answers `UnrecognizedClientException`. */
  revokeAccessKey(accessKeyId: string): void;
  addRole(roleArn: string, role: FakeAwsRole): void;
  /** Every request that reached the fake, in order: which API, whose key, and the outcome. */
  calls: Array<{ api: "sts:AssumeRole" | "ecr:GetAuthorizationToken" | "unknown"; accessKeyId: string | null; status: number; externalId?: string; roleSessionName?: string }>;
  close(): Promise<void>;
}

/** A random AWS-looking access key id (`AKIA` + 16) that no real account has. */
export function fakeAccessKeyId(prefix: "AKIA" | "ASIA" = "AKIA"): string {
  return prefix + randomBytes(10).toString("hex").toUpperCase().slice(0, 16);
}

type SourceData = string | ArrayBuffer | ArrayBufferView;
const bytes = (data: SourceData): string | Uint8Array =>
  typeof data === "string" ? data : data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);

/** node:crypto as the SDK's `Checksum` (SHA-256, HMAC with a secret). */
class Sha256 {
  private readonly hash;
  constructor(secret?: SourceData) {
    this.hash = secret === undefined ? createHash("sha256") : createHmac("sha256", bytes(secret));
  }
  update(data: SourceData): void {
    this.hash.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
  reset(): void {}
}

const AUTHORIZATION = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/;

export async function startFakeAws(options: FakeAwsOptions): Promise<FakeAws> {
  const now = options.now ?? (() => new Date());
  const lifetime = options.tokenLifetimeMs ?? 12 * 3600_000;
  const keys = new Map<string, { secret: string; revoked: boolean; sessionToken?: string; expiresAt?: Date }>();
  const roles = new Map<string, FakeAwsRole>();
  const calls: FakeAws["calls"] = [];

  /** The caller's key id when the signature is the one its secret makes; else why not. */
  async function authenticate(req: IncomingMessage, body: string): Promise<{ ok: true; keyId: string } | { ok: false; status: number; code: string; message: string }> {
    const match = AUTHORIZATION.exec(String(req.headers.authorization ?? ""));
    if (!match) return { ok: false, status: 400, code: "MissingAuthenticationTokenException", message: "Missing Authentication Token" };
    const [, keyId, , region, service, signedHeaders, signature] = match;
    const key = keys.get(keyId!);
    if (!key || key.revoked) return { ok: false, status: 400, code: "UnrecognizedClientException", message: "The security token included in the request is invalid." };
    if (key.expiresAt && key.expiresAt.getTime() <= now().getTime()) {
      return { ok: false, status: 400, code: "ExpiredTokenException", message: "The security token included in the request is expired" };
    }
    const headers: Record<string, string> = {};
    for (const name of signedHeaders!.split(";")) headers[name] = String(req.headers[name] ?? "");
    const amzDate = headers["x-amz-date"] ?? "";
    const signingDate = new Date(`${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`);
    const url = new URL(req.url ?? "/", "http://fake");
    const signer = new SignatureV4({
      credentials: { accessKeyId: keyId!, secretAccessKey: key.secret, ...(key.sessionToken && { sessionToken: key.sessionToken }) },
      region: region!,
      service: service!,
      sha256: Sha256,
    });
    const expected = await signer.sign(
      {
        method: req.method ?? "POST",
        protocol: "http:",
        hostname: headers.host?.split(":")[0] ?? "127.0.0.1",
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        headers,
        body,
      },
      { signingDate },
    );
    const expectedSignature = /Signature=([0-9a-f]{64})$/.exec(String(expected.headers.authorization))?.[1];
    if (expectedSignature !== signature) {
      return { ok: false, status: 403, code: "InvalidSignatureException", message: "The request signature we calculated does not match the signature you provided." };
    }
    return { ok: true, keyId: keyId! };
  }

  function stsError(res: ServerResponse, status: number, code: string, message: string): void {
    res.writeHead(status, { "content-type": "text/xml" });
    res.end(`<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>${randomBytes(8).toString("hex")}</RequestId></ErrorResponse>`);
  }

  function jsonError(res: ServerResponse, status: number, code: string, message: string): void {
    res.writeHead(status, { "content-type": "application/x-amz-json-1.1", "x-amzn-errortype": code });
    res.end(JSON.stringify({ __type: code, message }));
  }

  async function handle(req: IncomingMessage, res: ServerResponse, body: string): Promise<void> {
    const target = String(req.headers["x-amz-target"] ?? "");
    const form = new URLSearchParams(target === "" ? body : "");
    const api = target === "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken" ? "ecr:GetAuthorizationToken" : form.get("Action") === "AssumeRole" ? "sts:AssumeRole" : "unknown";
    const call: FakeAws["calls"][number] = { api, accessKeyId: null, status: 0 };
    calls.push(call);
    const refuse = (status: number, code: string, message: string) => {
      call.status = status;
      return api === "sts:AssumeRole" ? stsError(res, status, code, message) : jsonError(res, status, code, message);
    };
    const auth = await authenticate(req, body);
    if (!auth.ok) return refuse(auth.status, auth.code, auth.message);
    call.accessKeyId = auth.keyId;

    if (api === "sts:AssumeRole") {
      const roleArn = form.get("RoleArn") ?? "";
      const externalId = form.get("ExternalId") ?? undefined;
      const sessionName = form.get("RoleSessionName") ?? "";
      call.externalId = externalId;
      call.roleSessionName = sessionName;
      const role = roles.get(roleArn);
      if (!role || !role.trustedKeyIds.includes(auth.keyId) || role.externalId !== externalId) {
        return refuse(403, "AccessDenied", `User: arn:aws:iam::000000000000:user/modbox is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`);
      }
      const sessionKeyId = fakeAccessKeyId("ASIA");
      const secret = randomBytes(30).toString("base64");
      const sessionToken = randomBytes(48).toString("base64");
      const expiresAt = new Date(now().getTime() + Number(form.get("DurationSeconds") ?? 3600) * 1000);
      keys.set(sessionKeyId, { secret, revoked: false, sessionToken, expiresAt });
      call.status = 200;
      res.writeHead(200, { "content-type": "text/xml" });
      res.end(
        `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><Credentials>` +
          `<AccessKeyId>${sessionKeyId}</AccessKeyId><SecretAccessKey>${secret}</SecretAccessKey><SessionToken>${sessionToken}</SessionToken>` +
          `<Expiration>${expiresAt.toISOString()}</Expiration></Credentials><AssumedRoleUser><AssumedRoleId>AROAFAKE:${sessionName}</AssumedRoleId>` +
          `<Arn>${roleArn.replace(":iam::", ":sts::").replace(":role/", ":assumed-role/")}/${sessionName}</Arn></AssumedRoleUser></AssumeRoleResult>` +
          `<ResponseMetadata><RequestId>${randomBytes(8).toString("hex")}</RequestId></ResponseMetadata></AssumeRoleResponse>`,
      );
      return;
    }
    if (api === "ecr:GetAuthorizationToken") {
      call.status = 200;
      const expiresAt = (now().getTime() + lifetime) / 1000;
      res.writeHead(200, { "content-type": "application/x-amz-json-1.1" });
      res.end(
        JSON.stringify({
          authorizationData: [
            { authorizationToken: Buffer.from(`AWS:${options.registryPassword}`).toString("base64"), expiresAt, proxyEndpoint: "https://fake.dkr.ecr" },
          ],
        }),
      );
      return;
    }
    return refuse(400, "UnknownOperationException", "unknown operation");
  }

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      handle(req, res, Buffer.concat(chunks).toString("utf8")).catch(() => {
        res.writeHead(500).end();
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    addAccessKey: (id, secret) => void keys.set(id, { secret, revoked: false }),
    revokeAccessKey: (id) => {
      const key = keys.get(id);
      if (key) key.revoked = true;
    },
    addRole: (arn, role) => void roles.set(arn, role),
    calls,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
