#!/usr/bin/env node
// nsfwjs_reference.js - proves that framewire serving the converted nsfwjs model answers what
// nsfwjs itself answers. nsfwjs' own code (its load() and classify()) runs on the pure-JS
// @tensorflow/tfjs CPU backend (no native binaries); framewire's side comes from
// tests/model_probe (shim + framewire's decode and preprocessing).
//
//   node tests/nsfwjs_reference.js --probe BIN --manifest MODEL.json --model MobileNetV2 \
//        --work DIR [--same-tol 1e-4] [--e2e-tol 0.03] [--direct-weights] PHOTO.jpg|DIR...
//
// --direct-weights: load the model with nsfwjs' core load() and a model definition whose weight
// bundles require nsfwjs' shard files directly, instead of through the package's bundle
// functions, whose __importStar copies every base64 character as a property (about 50 s for
// InceptionV3's six shards). Same files, same strings; everything else is nsfwjs' own code.
//
// Two comparisons per photo:
//   same pixels  TurboJPEG's full-size decode (written by model_probe) is given to nsfwjs as a
//                tf.tensor3d and to framewire's preprocessing + model: every probability must
//                agree within --same-tol.
//   end to end   nsfwjs gets the photo decoded by jpeg-js (pure JS, what a Node user of nsfwjs
//                would use); framewire gets the JPEG bytes (fw_classifier_run: the server's
//                decode, preprocessing and model). Top-1 must agree and every probability must
//                agree within --e2e-tol.
// Prints a table and the largest differences; exits 1 when a check fails.
'use strict';

const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');

const MODELS_DIR = path.resolve(__dirname, '..', 'models');
const req = (m) => require(require.resolve(m, { paths: [MODELS_DIR] }));

function parseArgs(argv) {
    const a = { sameTol: 1e-4, e2eTol: 0.03, photos: [] };
    for (let i = 0; i < argv.length; i++) {
        const k = argv[i];
        const v = () => {
            if (i + 1 >= argv.length) throw new Error(`${k} needs a value`);
            return argv[++i];
        };
        if (k === '--probe') a.probe = v();
        else if (k === '--manifest') a.manifest = v();
        else if (k === '--model') a.model = v();
        else if (k === '--work') a.work = v();
        else if (k === '--same-tol') a.sameTol = Number(v());
        else if (k === '--e2e-tol') a.e2eTol = Number(v());
        else if (k === '--direct-weights') a.directWeights = true;
        else if (k.startsWith('--')) throw new Error(`unknown option ${k}`);
        else if (fs.statSync(k).isDirectory())
            a.photos.push(...fs.readdirSync(k).filter((f) => f.endsWith('.jpg')).sort().map((f) => path.join(k, f)));
        else a.photos.push(k);
    }
    if (!a.probe || !a.manifest || !a.model || !a.work || a.photos.length === 0)
        throw new Error('usage: nsfwjs_reference.js --probe BIN --manifest M --model NAME --work DIR PHOTO...');
    return a;
}

// nsfwjs.classify() answers [{className, probability}] sorted by probability: back to label order.
async function nsfwjsProbs(net, tf, img, labels) {
    const res = await net.classify(img, labels.length);
    const byName = Object.fromEntries(res.map((r) => [r.className, r.probability]));
    return labels.map((l) => {
        if (!(l in byName)) throw new Error(`nsfwjs gave no probability for ${l}`);
        return byName[l];
    });
}

async function loadDirect(name) {
    const def = req('nsfwjs/models/' + { MobileNetV2: 'mobilenet_v2', InceptionV3: 'inception_v3' }[name])[name + 'Model'];
    const pkgDir = path.resolve(path.dirname(require.resolve('nsfwjs', { paths: [MODELS_DIR] })), '..', '..');
    const dir = path.join(pkgDir, 'dist', 'models', { MobileNetV2: 'mobilenet_v2', InceptionV3: 'inception_v3' }[name]);
    const n = def.numOfWeightBundles;
    const bundles = [...Array(n).keys()].map((i) => async () => ({
        default: require(path.join(dir, `group1-shard${i + 1}of${n}.min.js`)),
    }));
    return req('nsfwjs/core').load(name, { modelDefinitions: [{ ...def, weightBundles: bundles }] });
}

const argmax = (v) => v.reduce((best, x, i) => (x > v[best] ? i : best), 0);
const maxDiff = (a, b) => Math.max(...a.map((x, i) => Math.abs(x - b[i])));

async function main() {
    const args = parseArgs(process.argv.slice(2));
    fs.mkdirSync(args.work, { recursive: true });

    // framewire's side first (one process: loading libtorch costs ~0.4 s).
    const t0 = Date.now();
    const out = execFileSync(args.probe, [args.manifest, args.work, ...args.photos], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
        maxBuffer: 64 << 20,
    });
    const lines = out.trim().split('\n').map((l) => JSON.parse(l));
    const { labels } = lines.shift();
    const fullDecode = JSON.parse(fs.readFileSync(args.manifest, 'utf8')).jpeg_dct_scaling === false;
    const tProbe = Date.now() - t0;

    const tf = req('@tensorflow/tfjs');
    const jpeg = req('jpeg-js');
    const nsfwjs = req('nsfwjs');
    await tf.setBackend('cpu');
    await tf.ready();
    const t1 = Date.now();
    const net = args.directWeights ? await loadDirect(args.model) : await nsfwjs.load(args.model);
    const tLoad = Date.now() - t1;

    let worstSame = 0,
        worstE2e = 0,
        failures = 0;
    const t2 = Date.now();
    console.log(`model ${args.model} (${labels.join(', ')}), tfjs ${tf.version.tfjs} backend ${tf.getBackend()}`);
    console.log('photo         | framewire same-pixels top-1 | nsfwjs top-1     | max|d| same | max|d| e2e | e2e top-1 (fw / nsfwjs)');
    for (const r of lines) {
        const rgb = fs.readFileSync(r.rgb);
        if (rgb.length !== r.w * r.h * 3) throw new Error(`${r.rgb}: ${rgb.length} bytes, expected ${r.w * r.h * 3}`);
        const same = await nsfwjsProbs(net, tf, tf.tensor3d(new Int32Array(rgb), [r.h, r.w, 3], 'int32'), labels);

        const dec = jpeg.decode(fs.readFileSync(r.photo), { useTArray: true, formatAsRGBA: false });
        const e2e = await nsfwjsProbs(net, tf, tf.tensor3d(new Int32Array(dec.data), [dec.height, dec.width, 3], 'int32'), labels);

        const dSame = maxDiff(same, r.same);
        const dE2e = maxDiff(e2e, r.e2e);
        worstSame = Math.max(worstSame, dSame);
        worstE2e = Math.max(worstE2e, dE2e);
        const top = (v) => `${labels[argmax(v)]} ${v[argmax(v)].toFixed(4)}`;
        const bad = [];
        if (!(dSame <= args.sameTol)) bad.push(`same-pixels difference ${dSame.toExponential(2)} > ${args.sameTol}`);
        if (argmax(r.same) !== argmax(same)) bad.push('same-pixels top-1 differs');
        if (!(dE2e <= args.e2eTol)) bad.push(`end-to-end difference ${dE2e.toFixed(4)} > ${args.e2eTol}`);
        if (argmax(r.e2e) !== argmax(e2e)) bad.push('end-to-end top-1 differs');
        // nsfwjs resizes the full-size picture; the manifest must make framewire do the same.
        if (fullDecode && (r.decoded_w !== r.w || r.decoded_h !== r.h))
            bad.push(`framewire decoded at ${r.decoded_w}x${r.decoded_h}, not full size`);
        failures += bad.length ? 1 : 0;
        console.log(
            `${path.basename(r.photo).padEnd(13)} | ${top(r.same).padEnd(27)} | ${top(same).padEnd(16)} | ` +
                `${dSame.toExponential(2).padStart(11)} | ${dE2e.toFixed(4).padStart(10)} | ` +
                `${labels[argmax(r.e2e)]} / ${labels[argmax(e2e)]}${bad.length ? '  FAIL: ' + bad.join('; ') : ''}`
        );
        fs.unlinkSync(r.rgb);
        fs.unlinkSync(r.input);
    }
    console.log(
        `largest difference: same pixels ${worstSame.toExponential(2)} (tolerance ${args.sameTol}), ` +
            `end to end ${worstE2e.toFixed(4)} (tolerance ${args.e2eTol})`
    );
    console.log(`times: framewire probe ${tProbe} ms, nsfwjs load ${tLoad} ms, nsfwjs runs ${Date.now() - t2} ms`);
    net.dispose();
    if (failures) {
        console.error(`${failures} photo(s) failed`);
        process.exit(1);
    }
}

main().catch((e) => {
    console.error(`nsfwjs_reference: ${e && e.stack ? e.stack : e}`);
    process.exit(1);
});
