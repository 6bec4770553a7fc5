import { apiHost, serverScheme } from "./hosts.js";

/**
 * AWS ECR registry hosts, in every form AWS serves them, and what the host says about where to ask
 * for a token: `<account>.dkr.ecr.<region>.amazonaws.com`, FIPS (`dkr.ecr-fips`), China
 * (`amazonaws.com.cn`), dual-stack (`<account>.dkr-ecr[-fips].<region>.on.aws`, in China
 * `on.amazonwebservices.com.cn`) and the isolated partitions' domains. The region is the only part
 * of the host that reaches the token exchange, and it must look like a region, so a user's host
 * can never steer the exchange to another endpoint than AWS's own for that region.
 */
const ECR_HOST =
  /^(\d{12})\.dkr([.-])ecr(-fips)?\.([a-z]{2}(?:-[a-z]+)+-\d{1,2})\.(amazonaws\.com|amazonaws\.com\.cn|on\.aws|on\.amazonwebservices\.com\.cn|c2s\.ic\.gov|sc2s\.sgov\.gov|cloud\.adc-e\.uk|csp\.hci\.ic\.gov)$/;

export interface EcrHost {
  accountId: string;
  region: string;
  fips: boolean;
  /** An IPv4-and-IPv6 (`.on.aws`) host: the token is asked for on the dual-stack endpoint too. */
  dualStack: boolean;
}

/**
 * The ECR registry a stored server names, repository prefix or not (`<host>/team` keeps the
 * registry-wide token, for a role that may pull only under that prefix), or null when it is not
 * an ECR host (a port or an http:// scheme make it none: ECR serves https on 443 only).
 */
export function parseEcrServer(server: string): EcrHost | null {
  if (serverScheme(server) !== "https") return null;
  return parseEcrHost(apiHost(server));
}

/**
 * The ECR registry a bare host names, or null when it is not one.
 *
 * @example parseEcrHost("123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com")
 * // { accountId: "123456789012", region: "us-gov-west-1", fips: true, dualStack: false }
 */
export function parseEcrHost(server: string): EcrHost | null {
  const match = ECR_HOST.exec(server);
  if (!match) return null;
  const [, accountId, separator, fips, region, domain] = match;
  const dualStack = domain!.startsWith("on.");
  // `dkr-ecr` is the dual-stack spelling, `dkr.ecr` the IPv4 one; AWS serves no other mix.
  if (dualStack !== (separator === "-")) return null;
  return { accountId: accountId!, region: region!, fips: fips !== undefined, dualStack };
}
