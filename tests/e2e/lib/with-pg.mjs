// Runs a command with MC_TEST_PG_URL pointing at a fresh real PostgreSQL.
import { spawn } from 'node:child_process';
import { startPostgres } from './pg.mjs';
const pg = await startPostgres();
const url = await pg.createDatabase('mc_unit');
const [cmd, ...args] = process.argv.slice(2);
const child = spawn(cmd, args, { stdio: 'inherit', env: { ...process.env, MC_TEST_PG_URL: url } });
const code = await new Promise((r) => child.on('exit', (c, s) => r(c ?? 1)));
await pg.stop();
process.exit(code);
