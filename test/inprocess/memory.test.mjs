// Item 6 of issue 9: activate()/deactivate() pairs do not grow native memory. Each configuration replaced
// is freed once no hook can be reading it (native/shim/current.c), so 10,000 pairs stay flat whether they
// repeat a few policies or every one is new. RSS is read from /proc/self/status in a fresh node, after a
// warm-up (JIT tiers, heap spaces), with the young generation held at 1 MB so that V8 growing its
// semi-space (up to 16 MB, not a leak) does not count.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { root } from '../helpers/cbuild.mjs';
import { runUnderShim } from '../helpers/shim.mjs';

const LIMIT_MB = 8;

async function growth(loop) {
    const script = `
        const t = require(${JSON.stringify(root)});
        const rss = () => Number(/VmRSS:\\s+(\\d+)/.exec(require('node:fs').readFileSync('/proc/self/status', 'utf8'))[1]) / 1024;
        const step = ${loop};
        for (let i = 0; i < 5000; i++) step(i);
        gc();
        const before = rss();
        for (let i = 5000; i < 15000; i++) step(i);
        gc();
        process.stdout.write(JSON.stringify(rss() - before));
    `;
    const r = await runUnderShim(process.execPath, ['--expose-gc', '--max-semi-space-size=1', '-e', script], { TETHERED_LOG: undefined }, { preload: false, timeoutMs: 120000 });
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout);
}

describe('no native memory growth', () => {
    test('10,000 activate()/deactivate() pairs over three policies keep RSS flat', async () => {
        const mb = await growth(`(i) => { t.activate({ allow: ['p' + (i % 3) + '.example.test'] }); t.deactivate(); }`);
        assert.ok(mb < LIMIT_MB, `RSS grew by ${mb.toFixed(1)} MB`);
    });

    test('10,000 activate()/deactivate() pairs, every policy a new one, keep RSS flat', async () => {
        const mb = await growth(`(i) => { t.activate({ allow: ['127.0.0.1:' + (1 + (i % 60000)), 'p' + i + '.example.test'] }); t.deactivate(); }`);
        assert.ok(mb < LIMIT_MB, `RSS grew by ${mb.toFixed(1)} MB`);
    });

    test('10,000 configurations pushed through the addon alone (no JavaScript state) leave no native memory behind', async () => {
        const mb = await growth(`(() => {
            t.activate({ allow: [] });
            const addon = require(require('node-gyp-build').resolve(${JSON.stringify(root)}));
            return (i) => {
                addon.configure({ allow: ['p' + i + '.example.test'], deny: [], allowLocalhost: true, logOnly: false, failClosed: false, childrenInherit: true, log: 'off', inject: ['TETHERED_ALLOW=p' + i + '.example.test'] }, null, false);
                addon.disable(null);
            };
        })()`);
        assert.ok(mb < 2, `RSS grew by ${mb.toFixed(1)} MB`);
    });
});
