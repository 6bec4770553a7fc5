import { describe, expect, it } from "vitest";
import { parseEcrHost, parseEcrServer } from "./ecr-hosts.js";

describe("parseEcrHost", () => {
  it.each([
    ["123456789012.dkr.ecr.eu-west-1.amazonaws.com", { region: "eu-west-1", fips: false, dualStack: false }],
    ["123456789012.dkr.ecr-fips.us-east-1.amazonaws.com", { region: "us-east-1", fips: true, dualStack: false }],
    ["123456789012.dkr.ecr.us-gov-west-1.amazonaws.com", { region: "us-gov-west-1", fips: false, dualStack: false }],
    ["123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn", { region: "cn-north-1", fips: false, dualStack: false }],
    ["123456789012.dkr-ecr.eu-central-1.on.aws", { region: "eu-central-1", fips: false, dualStack: true }],
    ["123456789012.dkr-ecr-fips.us-west-2.on.aws", { region: "us-west-2", fips: true, dualStack: true }],
    ["123456789012.dkr-ecr.cn-northwest-1.on.amazonwebservices.com.cn", { region: "cn-northwest-1", fips: false, dualStack: true }],
    ["123456789012.dkr.ecr.us-iso-east-1.c2s.ic.gov", { region: "us-iso-east-1", fips: false, dualStack: false }],
    ["123456789012.dkr.ecr.us-isob-east-1.sc2s.sgov.gov", { region: "us-isob-east-1", fips: false, dualStack: false }],
  ])("%s is an ECR host", (host, expected) => {
    expect(parseEcrHost(host)).toEqual({ accountId: "123456789012", ...expected });
  });

  it.each([
    "123456789012.dkr.ecr.eu-west-1.amazonaws.com:443",
    "http://123456789012.dkr.ecr.eu-west-1.amazonaws.com",
    "12345678901.dkr.ecr.eu-west-1.amazonaws.com",
    "123456789012.dkr.ecr.eu-west-1.amazonaws.com.evil.example",
    "123456789012.dkr.ecr.evil.example.amazonaws.com",
    "123456789012.dkr.ecr.eu-west-1.on.aws",
    "123456789012.dkr-ecr.eu-west-1.amazonaws.com",
    "public.ecr.aws",
    "ghcr.io",
  ])("%s is not", (host) => {
    expect(parseEcrHost(host)).toBeNull();
  });
});

describe("parseEcrServer", () => {
  it("reads the registry from a stored server, with or without a repository prefix", () => {
    const registry = { accountId: "123456789012", region: "eu-west-1", fips: false, dualStack: false };
    expect(parseEcrServer("123456789012.dkr.ecr.eu-west-1.amazonaws.com")).toEqual(registry);
    expect(parseEcrServer("123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/app")).toEqual(registry);
  });

  it("is none for a plain-HTTP server or one with a port: ECR serves https on 443 only", () => {
    expect(parseEcrServer("http://123456789012.dkr.ecr.eu-west-1.amazonaws.com")).toBeNull();
    expect(parseEcrServer("123456789012.dkr.ecr.eu-west-1.amazonaws.com:8443")).toBeNull();
    expect(parseEcrServer("ghcr.io/123456789012.dkr.ecr.eu-west-1.amazonaws.com")).toBeNull();
  });
});
