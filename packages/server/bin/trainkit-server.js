#!/usr/bin/env node
// The `trainkit-server` command: starts the Train API. It lives outside dist/ so that `npm install` can
// link it before the build that `prepare` runs has written dist/.
require("../dist/server/main.js");
