#!/usr/bin/env node
// The `touchpoint` command (cli.ts), run through tsx as `npm start` runs main.ts.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../cli.ts");
process.exitCode = await main(process.argv.slice(2));
