#!/usr/bin/env node
// The `trainkit` command. It lives outside dist/ so that `npm install` can link it before the build
// that `prepare` runs has written dist/.
require("../dist/cli/main.js").runCli();
