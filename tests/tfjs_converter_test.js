#!/usr/bin/env node
// tfjs_converter_test.js - tests models/tfjs_keras.py (the general tfjs Keras converter) against
// TensorFlow.js itself, beyond the two nsfwjs models.
//
//   node tests/tfjs_converter_test.js WORKDIR          (FW_TORCH_PYTHON: python with torch)
//
// Builds small Keras models with @tensorflow/tfjs (pure-JS CPU backend) that use every supported
// layer type with the settings nsfwjs' models do not exercise: odd input sizes (asymmetric "same"
// padding at stride 2 for Conv2D, DepthwiseConv2D, AveragePooling2D and MaxPooling2D), dilation,
// kernels that are not square, depth_multiplier 2, biases, BatchNormalization without scale,
// ReLU with and without max_value, every supported activation, Add of three inputs,
// Concatenate, GlobalAveragePooling2D, Flatten of a map larger than 1x1 (feature order), the
// Sequential format, and uint8- and uint16-quantized weights. tfjs saves each model (topology +
// weights in the tfjs format) and predicts a random batch; tests/tfjs_converter_check.py then
// converts each model and compares. It also checks the refusals: an unsupported layer type, an
// unsupported activation, channels_first, a weight no layer uses, a missing weight, a weight of
// the wrong shape.
'use strict';

const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');

const MODELS_DIR = path.resolve(__dirname, '..', 'models');
const tf = require(require.resolve('@tensorflow/tfjs', { paths: [MODELS_DIR] }));

// Deterministic pseudo-random numbers (the test must not depend on Math.random).
let seed = 12345;
function rand() {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
}
function randomize(model, scale) {
    for (const layer of model.layers) {
        const ws = layer.getWeights();
        if (!ws.length) continue;
        layer.setWeights(
            ws.map((w, i) => {
                const name = layer.weights[i].name;
                const n = w.size;
                const v = new Float32Array(n);
                for (let j = 0; j < n; j++) {
                    if (/moving_variance/.test(name)) v[j] = 0.5 + rand();
                    else if (/gamma/.test(name)) v[j] = 0.5 + rand();
                    else v[j] = (rand() * 2 - 1) * scale;
                }
                return tf.tensor(v, w.shape);
            })
        );
    }
}

// Quantizes every weight as tfjs-converter does (per tensor, affine) and loads the dequantized
// values back into the model, so that tfjs predicts with exactly what the converter will read.
function quantize(model, spec, data, dtype) {
    const levels = dtype === 'uint8' ? 255 : 65535;
    const Arr = dtype === 'uint8' ? Uint8Array : Uint16Array;
    const src = new Float32Array(data);
    const parts = [];
    let off = 0;
    const specs = [];
    const deq = {};
    for (const s of spec) {
        const n = s.shape.reduce((a, b) => a * b, 1);
        const v = src.subarray(off, off + n);
        off += n;
        let min = Infinity,
            max = -Infinity;
        for (const x of v) {
            min = Math.min(min, x);
            max = Math.max(max, x);
        }
        const scale = max > min ? (max - min) / levels : 1;
        const q = new Arr(n);
        const back = new Float32Array(n);
        for (let j = 0; j < n; j++) {
            q[j] = Math.round((v[j] - min) / scale);
            back[j] = q[j] * scale + min; // tfjs: float32(q * scale + min)
        }
        parts.push(Buffer.from(q.buffer));
        specs.push({ ...s, quantization: { dtype, scale, min } });
        deq[s.name] = tf.tensor(back, s.shape);
    }
    for (const layer of model.layers)
        if (layer.weights.length) layer.setWeights(layer.weights.map((w) => deq[w.originalName || w.name]));
    return { specs, data: Buffer.concat(parts) };
}

async function save(model, dir, quant) {
    let art;
    await model.save(tf.io.withSaveHandler(async (a) => ((art = a), { modelArtifactsInfo: {} })));
    let specs = art.weightSpecs;
    let data = Buffer.from(art.weightData);
    if (quant) ({ specs, data } = quantize(model, specs, art.weightData, quant));
    fs.mkdirSync(dir, { recursive: true });
    const json = { format: 'layers-model', modelTopology: art.modelTopology, weightsManifest: [{ paths: ['weights.bin'], weights: specs }] };
    fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(json));
    fs.writeFileSync(path.join(dir, 'weights.bin'), data);
    return json;
}

async function writeCase(name, model, inputShape, opts = {}) {
    const dir = path.join(process.argv[2], name);
    randomize(model, opts.scale || 0.5);
    const json = await save(model, dir, opts.quant);
    const n = 2 * inputShape.reduce((a, b) => a * b, 1);
    const x = new Float32Array(n);
    for (let i = 0; i < n; i++) x[i] = rand();
    const y = model.predict(tf.tensor(x, [2, ...inputShape]));
    fs.writeFileSync(path.join(dir, 'input.bin'), Buffer.from(x.buffer));
    fs.writeFileSync(path.join(dir, 'output.bin'), Buffer.from((await y.data()).buffer));
    fs.writeFileSync(
        path.join(dir, 'case.json'),
        JSON.stringify({ input_shape: inputShape, output_shape: y.shape, expect_error: opts.expectError || null })
    );
    return json;
}

function functionalModel() {
    const L = tf.layers;
    const inp = tf.input({ shape: [17, 13, 3] });
    let x = L.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }).apply(inp);
    x = L.batchNormalization({ epsilon: 1e-3 }).apply(x);
    x = L.reLU({ maxValue: 6 }).apply(x);
    x = L.zeroPadding2d({ padding: [[0, 1], [0, 1]] }).apply(x);
    x = L.depthwiseConv2d({ kernelSize: 3, strides: 2, padding: 'valid', depthMultiplier: 2, useBias: true }).apply(x);
    x = L.batchNormalization({ scale: false, epsilon: 1e-3 }).apply(x);
    x = L.activation({ activation: 'relu' }).apply(x);
    const y1 = L.averagePooling2d({ poolSize: 3, strides: 1, padding: 'same' }).apply(x);
    const y2 = L.maxPooling2d({ poolSize: 3, strides: 1, padding: 'same' }).apply(x);
    const y3 = L.conv2d({ filters: 16, kernelSize: [1, 3], padding: 'same', useBias: false }).apply(x);
    let z = L.add().apply([y1, y2, y3]);
    z = L.concatenate({ axis: -1 }).apply([z, y1]);
    const a = L.averagePooling2d({ poolSize: 2, strides: 2, padding: 'same' }).apply(z);
    const m = L.maxPooling2d({ poolSize: 2, strides: 2, padding: 'same' }).apply(z);
    let d = L.concatenate({ axis: 3 }).apply([a, m]);
    d = L.conv2d({ filters: 6, kernelSize: 3, dilationRate: 2, padding: 'same', activation: 'relu6' }).apply(d);
    d = L.depthwiseConv2d({ kernelSize: 3, strides: 2, padding: 'same', useBias: false }).apply(d);
    const g = L.globalAveragePooling2d({}).apply(d);
    const f = L.flatten().apply(d);
    let h = L.concatenate().apply([g, f]);
    h = L.dense({ units: 10, activation: 'relu' }).apply(h);
    h = L.dropout({ rate: 0.5 }).apply(h);
    h = L.dense({ units: 4, activation: 'softmax' }).apply(h);
    return tf.model({ inputs: inp, outputs: h });
}

function sequentialModel() {
    const L = tf.layers;
    const m = tf.sequential();
    m.add(L.conv2d({ inputShape: [12, 10, 3], filters: 5, kernelSize: [2, 3], activation: 'tanh' }));
    m.add(L.maxPooling2d({ poolSize: 2 }));
    m.add(L.reLU());
    m.add(L.averagePooling2d({ poolSize: [2, 1], strides: [1, 2] }));
    m.add(L.conv2d({ filters: 4, kernelSize: 1, strides: 2, padding: 'same', activation: 'elu' }));
    m.add(L.flatten());
    for (const act of ['sigmoid', 'selu', 'softplus', 'linear', 'tanh'])
        m.add(L.dense({ units: 7, activation: act }));
    m.add(L.dense({ units: 3 }));
    m.add(L.activation({ activation: 'softmax' }));
    return m;
}

async function main() {
    if (process.argv.length !== 3) throw new Error('usage: tfjs_converter_test.js WORKDIR');
    await tf.setBackend('cpu');
    const work = process.argv[2];
    fs.rmSync(work, { recursive: true, force: true });

    await writeCase('functional', functionalModel(), [17, 13, 3]);
    await writeCase('sequential', sequentialModel(), [12, 10, 3]);
    await writeCase('functional_uint8', functionalModel(), [17, 13, 3], { quant: 'uint8' });
    await writeCase('sequential_uint16', sequentialModel(), [12, 10, 3], { quant: 'uint16' });

    // Refusals. Each is a valid tfjs model that the converter must not convert.
    const L = tf.layers;
    const seq = (layers, shape) => {
        const m = tf.sequential();
        layers.forEach((l, i) => m.add(i === 0 ? l(shape) : l()));
        return m;
    };
    await writeCase(
        'bad_layer',
        seq([(s) => L.conv2d({ inputShape: s, filters: 2, kernelSize: 1 }), () => L.upSampling2d({ size: [2, 2] }), () => L.flatten()], [4, 4, 3]),
        [4, 4, 3],
        { expectError: 'layer type UpSampling2D is not supported' }
    );
    await writeCase(
        'bad_activation',
        seq([(s) => L.conv2d({ inputShape: s, filters: 2, kernelSize: 1, activation: 'softsign' }), () => L.flatten()], [4, 4, 3]),
        [4, 4, 3],
        { expectError: "activation 'softsign' is not supported" }
    );
    await writeCase(
        'bad_leaky',
        seq([(s) => L.conv2d({ inputShape: s, filters: 2, kernelSize: 1 }), () => L.leakyReLU(), () => L.flatten()], [4, 4, 3]),
        [4, 4, 3],
        { expectError: 'layer type LeakyReLU is not supported' }
    );
    // Unused, missing and misshapen weights: edit the saved manifest of a good model.
    for (const [name, edit, msg] of [
        ['bad_unused_weight', (ws) => ws.push({ name: 'extra/kernel', shape: [1], dtype: 'float32' }), 'used by no layer: extra/kernel'],
        ['bad_missing_weight', (ws) => (ws[ws.length - 1].name = 'renamed/bias'), 'is missing from the manifest'],
    ]) {
        const json = await writeCase(name, sequentialModel(), [12, 10, 3], { expectError: msg });
        const dir = path.join(work, name);
        edit(json.weightsManifest[0].weights);
        if (name === 'bad_unused_weight')
            fs.appendFileSync(path.join(dir, 'weights.bin'), Buffer.alloc(4));
        fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(json));
    }
    {
        const json = await writeCase('bad_weight_shape', sequentialModel(), [12, 10, 3], { expectError: 'expected [7, 3]' });
        const ws = json.weightsManifest[0].weights;
        const last = ws.find((w) => w.shape.length === 2 && w.shape[1] === 3); // dense 7 -> 3 kernel
        last.shape = [3, 7];
        fs.writeFileSync(path.join(work, 'bad_weight_shape', 'model.json'), JSON.stringify(json));
    }
    {
        const json = await writeCase('bad_channels_first', sequentialModel(), [12, 10, 3], { expectError: "data_format 'channels_first'" });
        const layers = (json.modelTopology.model_config || json.modelTopology).config.layers;
        layers[0].config.data_format = 'channels_first';
        fs.writeFileSync(path.join(work, 'bad_channels_first', 'model.json'), JSON.stringify(json));
    }

    const py = process.env.FW_TORCH_PYTHON || '/usr/bin/python3';
    execFileSync(py, [path.join(__dirname, 'tfjs_converter_check.py'), work], { stdio: 'inherit' });
}

main().catch((e) => {
    console.error(`tfjs_converter_test: ${e && e.stack ? e.stack : e}`);
    process.exit(1);
});
