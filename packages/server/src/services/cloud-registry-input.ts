/**
 * Rules for cloud registry input that the schema cannot express, each a 422 naming the field and
 * the rule, never the value: an `aws_ecr` server must be an ECR host (its region is where the
 * token is asked for), its credential is a key pair or a role (not both, not neither); an
 * `azure_service_principal` server must be an ACR login server and its tenant a GUID or a domain;
 * and a registry's fields are those of its own `auth_type`.
 */
import { isAzureClientId, isAzureTenantId, parseAcrServer } from "../registry-protocol/azure-hosts.js";
import { serialiseAzureSecret } from "../cloud/azure-secret.js";
import { serialiseAwsEcrSecret } from "../cloud/aws-ecr-secret.js";
import { parseEcrServer } from "../registry-protocol/ecr-hosts.js";
import { parseServiceAccountKey } from "../cloud/gcp-service-account.js";
import { detectProvider } from "../registry-protocol/providers.js";
import type { RegistryAuthType } from "../db/records.js";
import { DomainError } from "../errors.js";

const AWS_FIELDS = ["aws_access_key_id", "aws_secret_access_key", "aws_role_arn"] as const;
const BASIC_FIELDS = ["username", "password"] as const;
const GCP_FIELDS = ["gcp_service_account_key"] as const;
const AZURE_FIELDS = ["azure_tenant_id", "azure_client_id", "azure_client_secret"] as const;
/** The credential fields of each type: a registry takes only its own. */
const FIELDS_OF: Record<RegistryAuthType, readonly string[]> = {
  basic: BASIC_FIELDS,
  aws_ecr: AWS_FIELDS,
  gcp_service_account: GCP_FIELDS,
  azure_service_principal: AZURE_FIELDS,
};

interface FieldError {
  path: string;
  message: string;
}

function invalid(detail: string, fieldErrors: FieldError[]): never {
  throw new DomainError("validation_failed", detail, { fieldErrors });
}

/** The normalised server, if it is an ECR registry host. */
export function ecrServerOrThrow(server: string): string {
  if (parseEcrServer(server)) return server;
  return invalid("An aws_ecr registry's server must be an ECR registry host.", [
    {
      path: "/body/server",
      message:
        "must be an ECR registry host such as 123456789012.dkr.ecr.eu-west-1.amazonaws.com (FIPS, dual-stack .on.aws and China hosts too), without a port",
    },
  ]);
}

/** The normalised server, if it is a Google Artifact Registry or Container Registry host. */
export function googleServerOrThrow(server: string): string {
  if (detectProvider(server).provider === "google") return server;
  return invalid("A gcp_service_account registry's server must be a Google registry host.", [
    { path: "/body/server", message: "must be a Google registry host such as europe-docker.pkg.dev or gcr.io, without a port" },
  ]);
}

/** The normalised server, if it is an ACR login server (its cloud picks the Entra authority). */
export function acrServerOrThrow(server: string): string {
  if (parseAcrServer(server)) return server;
  return invalid("An azure_service_principal registry's server must be an Azure Container Registry login server.", [
    { path: "/body/server", message: "must be an ACR login server such as contoso.azurecr.io (or .azurecr.cn, .azurecr.us), without a port" },
  ]);
}

type AzureFields = Partial<Record<(typeof AZURE_FIELDS)[number], string>>;

/**
 * The credential document to seal from the request's azure fields: all three, which the schema
 * already requires together (`update`: undefined when none is sent; the stored one stays). The
 * schema checks the tenant's and client id's form too; checked again here because the tenant
 * becomes a path segment of Entra's token URL.
 */
export function azureSecretOf(fields: AzureFields, mode: "create" | "update"): string | undefined {
  const { azure_tenant_id: tenantId, azure_client_id: clientId, azure_client_secret: clientSecret } = fields;
  if (tenantId === undefined && clientId === undefined && clientSecret === undefined && mode === "update") return undefined;
  const errors = [
    ...unlessValid(tenantId, isAzureTenantId, {
      path: "/body/azure_tenant_id",
      message: "must be a tenant id (a GUID) or a verified domain such as contoso.onmicrosoft.com",
    }),
    ...unlessValid(clientId, isAzureClientId, { path: "/body/azure_client_id", message: "must be an application (client) id: a GUID" }),
    ...unlessValid(clientSecret, (secret) => secret !== "", { path: "/body/azure_client_secret", message: "is required with azure_tenant_id and azure_client_id" }),
  ];
  if (errors.length > 0) invalid("An azure_service_principal credential is a tenant, a client id and a client secret.", errors);
  return serialiseAzureSecret({ tenantId: tenantId!, clientId: clientId!, clientSecret: clientSecret! });
}

/** No error when `value` is sent and `valid`; else the field's error. */
function unlessValid(value: string | undefined, valid: (value: string) => boolean, error: FieldError): FieldError[] {
  return value !== undefined && valid(value) ? [] : [error];
}

/** A service-account key Google would take, whose token_uri is Google's (else 422: the key is never used). */
export function gcpKeyOrThrow(key: string | undefined): string | undefined {
  if (key === undefined) return undefined;
  const parsed = parseServiceAccountKey(key);
  if (parsed.ok) return key;
  return invalid("The service-account key cannot be used.", [{ path: "/body/gcp_service_account_key", message: parsed.reason }]);
}

type AwsFields = Partial<Record<(typeof AWS_FIELDS)[number], string>>;

/**
 * The credential document to seal from the request's aws fields: a key pair or a role ARN.
 * `update`: undefined when none is sent (the stored credential stays). The schema already pairs
 * the key id with its secret.
 */
export function awsEcrSecretOf(fields: AwsFields, mode: "create" | "update"): string | undefined {
  const pair = fields.aws_access_key_id !== undefined && fields.aws_secret_access_key !== undefined;
  const role = fields.aws_role_arn !== undefined;
  if (pair && role) {
    invalid("An aws_ecr credential is a key pair or a role, not both.", [
      { path: "/body/aws_role_arn", message: "must not be sent with aws_access_key_id and aws_secret_access_key: send a key pair or a role" },
    ]);
  }
  // Stryker disable next-line StringLiteral: serialiseAwsEcrSecret writes a role for every kind but "access_key"
  if (role) return serialiseAwsEcrSecret({ kind: "role", roleArn: fields.aws_role_arn! });
  if (pair) return serialiseAwsEcrSecret({ kind: "access_key", accessKeyId: fields.aws_access_key_id!, secretAccessKey: fields.aws_secret_access_key! });
  if (mode === "update") return undefined;
  return invalid("An aws_ecr registry needs a credential.", [
    { path: "/body/aws_role_arn", message: "is required unless aws_access_key_id and aws_secret_access_key are sent" },
  ]);
}

/** A registry's credential fields are those of its type: a basic one takes no aws field, and the other way round. */
export function checkCredentialFieldsFit(authType: RegistryAuthType, input: Record<string, unknown>): void {
  // Stryker disable next-line ArrayDeclaration: a made-up name is no field the schema lets a body send (additionalProperties: false)
  const foreign = Object.entries(FIELDS_OF).flatMap(([type, fields]) => (type === authType ? [] : fields));
  const sent = foreign.filter((field) => input[field] !== undefined);
  if (sent.length === 0) return;
  invalid(`This registry's auth_type is ${authType}; its credential fields are the ones of that type.`, sent.map((field) => ({
    path: `/body/${field}`,
    message: `is not a field of ${authType} registries (auth_type cannot change: create another registry)`,
  })));
}
