/**
 * What an `aws_ecr` registry stores, sealed in `password_ciphertext` like a password: an IAM key
 * pair, or the role this server assumes. One JSON document, so the envelope, key rotation and the
 * destruction on delete treat it exactly as they treat a password.
 */
export type AwsEcrSecret =
  | { kind: "access_key"; accessKeyId: string; secretAccessKey: string }
  | { kind: "role"; roleArn: string };

export function serialiseAwsEcrSecret(secret: AwsEcrSecret): string {
  return JSON.stringify(
    secret.kind === "access_key"
      ? { access_key_id: secret.accessKeyId, secret_access_key: secret.secretAccessKey }
      : { role_arn: secret.roleArn },
  );
}

/** The stored document; throws (without quoting it) when it is not one this server wrote. */
export function parseAwsEcrSecret(text: string): AwsEcrSecret {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    // Never the SyntaxError: V8 quotes the input in its message.
    throw new Error("the stored aws_ecr credential is not JSON");
  }
  const doc = (typeof value === "object" && value !== null ? value : {}) as Record<string, unknown>;
  if (typeof doc.access_key_id === "string" && typeof doc.secret_access_key === "string") {
    return { kind: "access_key", accessKeyId: doc.access_key_id, secretAccessKey: doc.secret_access_key };
  }
  if (typeof doc.role_arn === "string") return { kind: "role", roleArn: doc.role_arn };
  throw new Error("the stored aws_ecr credential has neither a key pair nor a role");
}
