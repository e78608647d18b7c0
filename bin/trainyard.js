#!/usr/bin/env node
// `npx trainyard` / `npm run trainyard --`: the command line is TypeScript, run through tsx's loader
// registered here, so it needs no build step.
import { register } from 'tsx/esm/api'

register()
await import('../cli/trainyard.ts')
