import test from 'ava';
import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import {
  convertDualEnergyFolder,
  dualEnergyChannel3,
  dualEnergyPairToRgb,
  dualEnergyToRgb,
  readGrey16,
  writeGrey16Png,
} from '../lib/data/dual_energy.js';
import { LaxrayError } from '../lib/errors.js';
import { laxray } from './helpers/cli.js';
import { tempDir } from './helpers/temp_dir.js';

// Hand-worked eq. 1: ch2 = round(510·σ(R) − 255), R = high/low.
//   R = 1:    σ = 0.7310586 → 372.8399 − 255 = 117.84 → 118
//   R = 2:    σ = 0.8807971 → 449.2065 − 255 = 194.21 → 194
//   R = 0.25: σ = 0.5621765 → 286.7100 − 255 =  31.71 →  32
//   R = 6:    σ = 0.9975274 → 508.7390 − 255 = 253.74 → 254
//   R = 0:    σ = 0.5       → 0
const cases: [number, number, number, number, number][] = [
  // high, low, ch0, ch1, ch2
  [65535, 65535, 255, 255, 118],
  [1000, 500, 3, 1, 194],
  [256, 1024, 1, 4, 32],
  [30000, 5000, 117, 19, 254],
  [0, 100, 0, 0, 0],
  [255, 255, 0, 0, 118],
];

test('eq. 1 maps known 16-bit pixel pairs to hand-computed bytes', (t) => {
  const high = Uint16Array.from(cases, (c) => c[0]);
  const low = Uint16Array.from(cases, (c) => c[1]);
  const rgb = dualEnergyToRgb(high, low);
  cases.forEach(([h, l, c0, c1, c2], i) => {
    t.deepEqual([rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2]], [c0, c1, c2], `high=${h} low=${l}`);
    t.is(dualEnergyChannel3(h, l), c2);
  });
});

test('low = 0 gives the limit of R without NaN: 255 when high > 0, 0 when both are 0', (t) => {
  const rgb = dualEnergyToRgb(Uint16Array.of(5, 0, 65535), Uint16Array.of(0, 0, 0));
  t.deepEqual([...rgb], [0, 0, 255, 0, 0, 0, 255, 0, 255]);
  t.is(dualEnergyChannel3(1, 0), 255);
  t.is(dualEnergyChannel3(0, 0), 0);
});

test('every byte is finite and in range over a sweep of pairs', (t) => {
  const n = 4096;
  const high = new Uint16Array(n);
  const low = new Uint16Array(n);
  for (let i = 0; i < n; i++) {
    high[i] = (i * 2654435761) % 65536;
    low[i] = (i * 40503) % 65536;
  }
  const rgb = dualEnergyToRgb(high, low);
  for (let i = 0; i < n; i++) t.is(rgb[3 * i + 2], dualEnergyChannel3(high[i] as number, low[i] as number));
});

test('16-bit PNG pairs round-trip through files and the folder converter reports unmatched files', async (t) => {
  const dir = tempDir('dual-energy');
  const out = path.join(dir, 'out');
  const w = 3;
  const h = 2;
  const high = Uint16Array.of(65535, 1000, 256, 30000, 0, 255);
  const low = Uint16Array.of(65535, 500, 1024, 5000, 100, 255);
  await writeGrey16Png(path.join(dir, 'scan1_high.png'), { data: high, width: w, height: h });
  await writeGrey16Png(path.join(dir, 'scan1_low.png'), { data: low, width: w, height: h });
  await writeGrey16Png(path.join(dir, 'lonely_high.png'), { data: high, width: w, height: h });
  await writeFile(path.join(dir, 'notes.png'), 'not an image');
  const back = await readGrey16(path.join(dir, 'scan1_high.png'));
  t.deepEqual([...back.data], [...high]);

  const report = await convertDualEnergyFolder(dir, out);
  t.deepEqual(report.converted.map((c) => c.name), ['scan1']);
  t.deepEqual(report.unmatched.map((u) => u.file).sort(), ['lonely_high.png', 'notes.png']);
  t.regex(report.unmatched.find((u) => u.file === 'lonely_high.png')?.reason ?? '', /no low-energy partner/);
  const { data, info } = await sharp(path.join(out, 'scan1.png')).raw().toBuffer({ resolveWithObject: true });
  t.is(info.channels, 3);
  t.deepEqual([...data], [...dualEnergyToRgb(high, low)]);
});

test('custom name patterns match pairs such as H_<name>.tif / L_<name>.tif', async (t) => {
  const dir = tempDir('dual-energy');
  const img = { data: Uint16Array.of(1000, 2000), width: 2, height: 1 };
  const tiff = async (f: string): Promise<void> => {
    await sharp(img.data, { raw: { width: 2, height: 1, channels: 1 } }).toColourspace('grey16').tiff({ compression: 'lzw' }).toFile(path.join(dir, f));
  };
  await tiff('H_bag7.tif');
  await tiff('L_bag7.tif');
  const report = await convertDualEnergyFolder(dir, path.join(dir, 'out'), { highPattern: 'H_{name}', lowPattern: 'L_{name}' });
  t.deepEqual(report.converted.map((c) => c.name), ['bag7']);
  t.deepEqual(report.failed, []);
});

test('8-bit input, size mismatch and a missing file are rejected with messages naming the files', async (t) => {
  const dir = tempDir('dual-energy');
  const eight = path.join(dir, 'a_high.png');
  await sharp(Buffer.from([1, 2, 3, 4]), { raw: { width: 2, height: 2, channels: 1 } }).png().toFile(eight);
  const e1 = await t.throwsAsync(readGrey16(eight), { instanceOf: LaxrayError });
  t.is(e1?.code, 'INVALID_IMAGE');
  t.regex(e1?.message ?? '', /a_high\.png is 8-bit, not 16-bit/);

  const big = path.join(dir, 'b_high.png');
  const small = path.join(dir, 'b_low.png');
  await writeGrey16Png(big, { data: new Uint16Array(6), width: 3, height: 2 });
  await writeGrey16Png(small, { data: new Uint16Array(4), width: 2, height: 2 });
  const e2 = await t.throwsAsync(dualEnergyPairToRgb(big, small), { instanceOf: LaxrayError });
  t.regex(e2?.message ?? '', /b_high\.png is 3×2 but low-energy image .*b_low\.png is 2×2/);

  const e3 = await t.throwsAsync(readGrey16(path.join(dir, 'nope.png')), { instanceOf: LaxrayError });
  t.regex(e3?.message ?? '', /nope\.png/);
  t.is(e3?.code, 'IO_ERROR');

  const report = await convertDualEnergyFolder(dir, path.join(dir, 'out'));
  t.deepEqual(report.failed.map((f) => f.name), ['b']);
  t.regex(report.failed[0]?.error ?? '', /3×2 but/);
  t.deepEqual(report.unmatched.map((u) => u.file), ['a_high.png']);
});

test('the table-driven ch2 equals round(510·σ(R) − 255) computed directly', (t) => {
  let mismatches = 0;
  for (let h = 0; h < 65536; h += 37) {
    for (let l = 1; l < 65536; l += 101) {
      const direct = Math.round(510 / (1 + Math.exp(-h / l)) - 255);
      if (dualEnergyChannel3(h, l) !== direct) mismatches++;
    }
  }
  t.is(mismatches, 0);
});

test('laxray convert dual-energy converts a folder of pairs and reports the unmatched file', async (t) => {
  const dir = tempDir('dual-energy');
  const high = Uint16Array.of(65535, 1000, 256, 30000);
  const low = Uint16Array.of(65535, 500, 1024, 5000);
  await writeGrey16Png(path.join(dir, 'a_high.png'), { data: high, width: 2, height: 2 });
  await writeGrey16Png(path.join(dir, 'a_low.png'), { data: low, width: 2, height: 2 });
  await writeGrey16Png(path.join(dir, 'b_high.png'), { data: high, width: 2, height: 2 });
  const out = path.join(dir, 'out');
  const { code, stdout, stderr } = await laxray(['convert', 'dual-energy', '--input', dir, '--out', out, '--json']);
  t.is(code, 0, stderr);
  const report = JSON.parse(stdout);
  t.deepEqual(report.converted.map((c: { name: string }) => c.name), ['a']);
  t.deepEqual(report.unmatched.map((u: { file: string }) => u.file), ['b_high.png']);
  const { data } = await sharp(path.join(out, 'a.png')).raw().toBuffer({ resolveWithObject: true });
  t.deepEqual([...data], [255, 255, 118, 3, 1, 194, 1, 4, 32, 117, 19, 254]);
  const half = await laxray(['convert', 'dual-energy', '--high', path.join(dir, 'a_high.png'), '--out', out]);
  t.not(half.code, 0);
  t.regex(half.stderr, /give either --high <file> --low <file>/);
});

test('a folder or a FIFO given as a 16-bit reading says what it is (the FIFO is never opened)', async (t) => {
  const dir = tempDir('dual-energy');
  const fifo = path.join(dir, 'scan_high.png');
  execFileSync('mkfifo', [fifo]);
  const e1 = await t.throwsAsync(readGrey16(fifo), { instanceOf: LaxrayError });
  t.is(e1?.code, 'INVALID_IMAGE');
  t.regex(e1?.message ?? '', /scan_high\.png as an image: it is a FIFO \(named pipe\), not an image file/);
  const e2 = await t.throwsAsync(readGrey16(dir), { instanceOf: LaxrayError });
  t.regex(e2?.message ?? '', /it is a folder, not an image file/);
});
