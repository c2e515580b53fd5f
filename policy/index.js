// trainkit's policy pack. The rules live in the library (`trainkit/policy`), built into ../dist, so they
// can be called and tested on their own; this file only serves them to the Pulumi engine.
const { PolicyPack } = require("@pulumi/policy");
const { POLICY_PACK_NAME, policyPackArgs } = require("../dist/policy");

new PolicyPack(POLICY_PACK_NAME, policyPackArgs());
