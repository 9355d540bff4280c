#!/usr/bin/env node
// extract_nsfwjs.js - takes one of the Keras layers models bundled in the npm package `nsfwjs`
// out of its JavaScript wrappers and writes it as plain files for the Python converter.
//
//   node models/extract_nsfwjs.js MODEL OUTDIR        MODEL: MobileNetV2 | InceptionV3
//
// writes into OUTDIR:
//   model.json    the tfjs model JSON ({modelTopology, weightsManifest, format, ...}) plus a
//                 "framewire" block: nsfwjs' version, model name, input size and class labels
//   weights.bin   every weight shard of every group, concatenated in manifest order (the byte
//                 layout tfjs itself reads: weights follow each other in weightsManifest order)
//
// Facts this relies on (design notes, section 4): the package's exports map allows
// `nsfwjs/models/<name>` only; `modelJson()` resolves to {default: modelJson} and each of
// `weightBundles[i]()` to {default: base64 of one shard}. nsfwjs' class names live in
// dist/cjs/nsfw_classes.js, which the exports map hides, so it is loaded by absolute path.
//
// Speed: `weightBundles[i]()` passes the shard's exports (one base64 string) through TypeScript's
// __importStar helper, which copies every character of the string as a property: about 8 s per
// 5.6 MB shard here (InceptionV3 has six). The same shard file, dist/models/<dir>/
// group1-shard{i}of{n}.min.js, is therefore required directly when it exists (same module, same
// string); the bundle function is the fallback.
'use strict';

const fs = require('fs');
const path = require('path');

const MODELS = {
    MobileNetV2: { module: 'nsfwjs/models/mobilenet_v2', exportName: 'MobileNetV2Model', dir: 'mobilenet_v2' },
    InceptionV3: { module: 'nsfwjs/models/inception_v3', exportName: 'InceptionV3Model', dir: 'inception_v3' },
};
const DEFAULT_SIZE = 224; // nsfwjs core.js IMAGE_SIZE, used when the model sets no options.size

function die(msg) {
    process.stderr.write(`extract_nsfwjs: ${msg}\n`);
    process.exit(1);
}

async function main() {
    const [name, outDir] = process.argv.slice(2);
    if (!name || !outDir || !MODELS[name])
        die(`usage: extract_nsfwjs.js {${Object.keys(MODELS).join('|')}} OUTDIR`);

    // The exports map hides package.json too: go up from the CommonJS entry (dist/cjs/index.js).
    const pkgDir = path.resolve(path.dirname(require.resolve('nsfwjs', { paths: [__dirname] })), '..', '..');
    const pkg = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8'));
    const spec = MODELS[name];
    const def = require(require.resolve(spec.module, { paths: [__dirname] }))[spec.exportName];
    if (!def || typeof def.modelJson !== 'function' || !Array.isArray(def.weightBundles))
        die(`${spec.module} does not export ${spec.exportName} with modelJson and weightBundles`);
    const classesPath = path.join(pkgDir, 'dist', 'cjs', 'nsfw_classes.js');
    const classes = require(classesPath).NSFW_CLASSES;
    if (!classes) die(`no NSFW_CLASSES in ${classesPath}`);
    const labels = Object.keys(classes)
        .map(Number)
        .sort((a, b) => a - b)
        .map((i) => classes[i]);

    const modelJson = (await def.modelJson()).default;
    if (!modelJson || !modelJson.modelTopology || !Array.isArray(modelJson.weightsManifest))
        die(`${name}: modelJson() gave no modelTopology/weightsManifest`);

    // nsfwjs names shards "group1-shard{i}of{n}" and loads bundle i for shard i (core.js).
    const n = def.numOfWeightBundles;
    const shards = {};
    for (let i = 0; i < n; i++) {
        const file = path.join(pkgDir, 'dist', 'models', spec.dir, `group1-shard${i + 1}of${n}.min.js`);
        const b64 = fs.existsSync(file) ? require(file) : (await def.weightBundles[i]()).default;
        if (typeof b64 !== 'string') die(`${name}: weight bundle ${i} is not base64 text`);
        shards[`group1-shard${i + 1}of${n}`] = Buffer.from(b64, 'base64');
    }
    const parts = [];
    for (const group of modelJson.weightsManifest) {
        for (const p of group.paths) {
            if (!shards[p]) die(`${name}: weightsManifest names shard ${p}, which nsfwjs does not bundle`);
            parts.push(shards[p]);
        }
    }
    const weights = Buffer.concat(parts);

    const size = (def.options && def.options.size) || DEFAULT_SIZE;
    const out = Object.assign({}, modelJson, {
        framewire: {
            source: `nsfwjs ${pkg.version} (${pkg.license}), ${spec.module}`,
            nsfwjs_version: pkg.version,
            license: pkg.license,
            model: name,
            input_size: size,
            labels,
        },
    });
    fs.mkdirSync(outDir, { recursive: true });
    fs.writeFileSync(path.join(outDir, 'weights.bin'), weights);
    fs.writeFileSync(path.join(outDir, 'model.json'), JSON.stringify(out));
    process.stdout.write(
        `extract_nsfwjs: ${name} from nsfwjs ${pkg.version}: ${weights.length} weight bytes, ` +
            `input ${size}x${size}, labels ${labels.join(',')}\n`
    );
}

main().catch((e) => die(e && e.stack ? e.stack : String(e)));
