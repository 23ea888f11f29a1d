// Helpers for the key rollover tests: the CLI as an owner runs it, the step keypost's background
// job takes (with an explicit clock), and the check made at every step: DNSKEY, CDS and RRSIG key
// tags as the step wants them, delv "fully validated" from each trust anchor a resolver may hold
// then (OPENPGPKEY, TXT, a denial, CDS), and the signed AXFR a secondary takes signed the same way
// and accepted by ldns-verify-zone and BIND's dnssec-verify.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { loadConfig } from '../../../src/config.js';
import type { Db } from '../../../src/db/database.js';
import { advanceRollover } from '../../../src/dns/dnssec/rollover.js';
import { openpgpkeyLabel } from '../../../src/protocol/address-hashes.js';
import { openTestDatabase, type TestDatabase } from '../../support/database.js';
import { freePort } from '../../support/ports.js';
import { addZone, makeKey, publish } from './fixtures.js';
import { signZone } from './dnssec.js';
import { startDns } from './server.js';
import { delv, delvVerdict, writeDsAnchor } from './dnssec.js';
import { dig, waitFor, type DnsServer } from './server.js';

const run = promisify(execFile);

/** The tools the check needs (for requireTool). */
export const ROLLOVER_TOOLS = ['delv', 'dig', 'ldns-verify-zone', 'dnssec-verify'] as const;

export interface StatusJson {
  keys: { key_tag: number; algorithm: number; role: string; state: string; since: string; parent_ds_replaced_at?: string }[];
  next: { step: string; new_key?: number; old_key?: number; earliest?: string; ds?: string[]; command?: string; text: string };
}

/** What a step must look like. */
export interface Expected {
  /** Keys in the DNSKEY RRset. */
  dnskeys: number[];
  /** Keys whose RRSIGs cover DNSKEY, CDS and CDNSKEY. */
  keySetSigners: number[];
  /** Keys whose RRSIGs cover everything else. */
  dataSigners: number[];
  /** The key CDS names. */
  cds: number;
  /** Trust-anchor files a resolver may hold at this step. */
  anchors: string[];
}

const sorted = (tags: number[]) => [...tags].sort((a, b) => a - b);

/** Key tags of the RRSIGs over `type` among dig's record lines. */
function rrsigTags(lines: string[], type: string): number[] {
  return sorted(
    lines
      .map((l) => l.split(/\s+/))
      .filter((f) => f[3] === 'RRSIG' && f[4] === type)
      .map((f) => Number(f[10])),
  );
}

const distinct = (tags: number[]) => sorted([...new Set(tags)]);

export class RolloverZone {
  constructor(
    readonly db: TestDatabase,
    readonly server: DnsServer,
    readonly zone: string,
  ) {}

  /**
   * A zone signed with one algorithm-13 CSK, with one published address, served by a DNS server
   * that lets the test's own address transfer it as a secondary would; and the trust anchor a
   * resolver holds before any rollover (the DS of that key).
   */
  static async start(zone: string, ttl: number): Promise<{ z: RolloverZone; keyTag: number; anchor: string }> {
    const db = await openTestDatabase();
    await addZone(db.db, zone, {
      dns: {
        nameservers: [{ name: `ns1.${zone}`, ipv4: ['192.0.2.53'] }],
        soa: { refresh: 3600, retry: 900, expire: 1_209_600, minimum: 60, ttl },
        secondaries: [{ address: '127.0.0.1', port: await freePort() }],
      },
    });
    await signZone(db, zone, 13);
    await publish(db.db, `alice@${zone}`, await makeKey(`alice@${zone}`));
    const z = new RolloverZone(db, await startDns(db), zone);
    const ds = await z.currentDs();
    return { z, keyTag: ds.keyTag, anchor: z.dsAnchor('old-ds', ds.ds) };
  }

  async close(): Promise<void> {
    await this.server.close();
    await this.db.close();
  }

  async cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    try {
      const env = { ...process.env, ...this.db.env, KEYPOST_LOG_LEVEL: 'warn' };
      const { stdout, stderr } = await run(process.execPath, ['dist/src/cli/main.js', ...args], { env, timeout: 60_000 });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
    }
  }

  async status(): Promise<StatusJson> {
    const out = await this.cli('dns', 'status', this.zone, '--json');
    assert.equal(out.code, 0, out.stderr);
    return JSON.parse(out.stdout) as StatusJson;
  }

  /** The DS (`<zone>. IN DS <tag> <alg> 2 <hex>`) of the key the parent is asked for now. */
  async currentDs(): Promise<{ keyTag: number; ds: string }> {
    const out = await this.cli('dns', 'ds', this.zone, '--json');
    assert.equal(out.code, 0, out.stderr);
    const records = JSON.parse(out.stdout) as { key_tag: number; ds: string }[];
    assert.equal(records.length, 1, 'the parent is asked for one DS');
    return { keyTag: records[0].key_tag, ds: records[0].ds };
  }

  dsAnchor(name: string, ds: string): string {
    return writeDsAnchor(this.db.env.KEYPOST_DATA_DIR, `${this.zone}-${name}`, this.zone, ds);
  }

  timing() {
    return loadConfig(this.db.env).dns.rollover;
  }

  /** Takes the step keypost's background job would take if the clock said `now`. */
  advance(now: Date) {
    return (this.db.db as Db).transaction().execute((tx) => advanceRollover(tx, this.zone, this.timing(), now));
  }

  /** Takes the next timed step at the earliest time `dns status` gives, after checking it is not due a second before. */
  async advanceAtEarliest(kind: string): Promise<void> {
    const { next } = await this.status();
    assert.equal(next.step, kind);
    const earliest = Date.parse(next.earliest!);
    assert.equal(await this.advance(new Date(earliest - 1000)), undefined, `${kind}: not a second early`);
    assert.equal((await this.advance(new Date(earliest)))?.kind, kind);
  }

  /** Waits until the server answers with the serial the database holds now. */
  async served(): Promise<void> {
    const row = await (this.db.db as Db).selectFrom('domains').select('serial').where('name', '=', this.zone).executeTakeFirstOrThrow();
    const want = Number(row.serial);
    const soaSerial = async () => Number((await dig(this.server, '+short', this.zone, 'SOA')).split(' ')[2]);
    await waitFor(`serial ${want}`, async () => ((await soaSerial()) === want ? true : undefined), 10_000);
  }

  private async answer(name: string, type: string): Promise<string[]> {
    const out = await dig(this.server, '+dnssec', '+nocmd', '+nostats', '+nocomments', '+noquestion', name, type);
    return out.split('\n').filter((l) => l.trim() && !l.startsWith(';'));
  }

  alice(): string {
    return `${openpgpkeyLabel('alice')}._openpgpkey.${this.zone}`;
  }

  async verdict(anchors: string, name: string, type: string): Promise<string> {
    return delvVerdict(await delv(this.server, anchors, this.zone, name, type));
  }

  async check(label: string, want: Expected): Promise<void> {
    await this.served();
    const { zone } = this;
    const dnskey = await this.answer(zone, 'DNSKEY');
    assert.equal(dnskey.filter((l) => l.split(/\s+/)[3] === 'DNSKEY').length, want.dnskeys.length, `${label}: DNSKEY count`);
    assert.deepEqual(rrsigTags(dnskey, 'DNSKEY'), sorted(want.keySetSigners), `${label}: DNSKEY RRSIGs`);
    const cds = (await this.answer(zone, 'CDS')).filter((l) => l.split(/\s+/)[3] === 'CDS').map((l) => Number(l.split(/\s+/)[4]));
    assert.deepEqual(cds, [want.cds], `${label}: CDS names the key to trust`);
    assert.deepEqual(rrsigTags(await this.answer(this.alice(), 'OPENPGPKEY'), 'OPENPGPKEY'), sorted(want.dataSigners), `${label}: OPENPGPKEY RRSIGs`);

    for (const anchors of want.anchors) {
      for (const [name, type, expected] of [
        [this.alice(), 'OPENPGPKEY', '; fully validated'],
        [`_keypost.${zone}`, 'TXT', '; fully validated'],
        [`${openpgpkeyLabel('nobody')}._openpgpkey.${zone}`, 'OPENPGPKEY', '; negative response, fully validated'],
        [zone, 'CDS', '; fully validated'],
      ]) {
        assert.equal(await this.verdict(anchors, name, type), expected, `${label}: ${type} ${name} with ${path.basename(anchors)}`);
      }
    }

    // The signed transfer a secondary takes follows the keys too, and verifies as a whole.
    const axfr = (await dig(this.server, '+nocmd', '+nostats', '+nocomments', '+onesoa', zone, 'AXFR')).split('\n').filter((l) => l.trim() && !l.startsWith(';'));
    for (const type of ['DNSKEY', 'CDS', 'CDNSKEY']) assert.deepEqual(rrsigTags(axfr, type), sorted(want.keySetSigners), `${label}: AXFR ${type} RRSIGs`);
    for (const type of ['SOA', 'OPENPGPKEY', 'NSEC3', 'ZONEMD']) {
      assert.deepEqual(distinct(rrsigTags(axfr, type)), sorted(want.dataSigners), `${label}: AXFR ${type} RRSIGs`);
    }
    const file = path.join(this.db.env.KEYPOST_DATA_DIR, `${zone}.transferred`);
    writeFileSync(file, `${axfr.join('\n')}\n`);
    const verified = await run('ldns-verify-zone', ['-Z', file]).then(
      (r) => r.stdout,
      (err: { stdout?: string; stderr?: string }) => `${err.stdout ?? ''}${err.stderr ?? ''}`,
    );
    assert.match(verified, /Zone is verified and complete/, `${label}: ldns-verify-zone`);
    // BIND's verifier checks that every algorithm in the DNSKEY RRset signs every RRset (-z: one
    // combined signing key, no separate key without the SEP flag).
    const bind = await run('dnssec-verify', ['-z', '-o', zone, file]).then(
      (r) => `${r.stdout}${r.stderr}`,
      (err: { stdout?: string; stderr?: string }) => `${err.stdout ?? ''}${err.stderr ?? ''}`,
    );
    assert.match(bind, /Zone fully signed/, `${label}: dnssec-verify`);
  }
}
