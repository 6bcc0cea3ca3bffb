// Report rendering: annotated images put the class colour exactly on the box's
// pixels (read back with sharp), plots are real images with their axes and
// legend, tables align exactly as worked out by hand.
import test from 'ava';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { LaxrayError } from '../lib/errors.js';
import {
  annotateImage,
  CLASS_COLORS,
  classColor,
  movingAverage,
  formatSummary,
  formatTable,
  formatTick,
  hexToRgb,
  lossCurvesPlot,
  metricCurvesPlot,
  niceTicks,
  renderLinePlot,
  renderLinePlotSvg,
  textColorOn,
  writeTrainingReport,
  type DrawableDetection,
  type TableRow,
} from '../lib/report/index.js';
import { textWidth } from '../lib/report/svg.js';
import { tempDir } from './helpers/temp_dir.js';

const BG: [number, number, number] = [128, 128, 128];

async function greyImage(width: number, height: number): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: BG[0], g: BG[1], b: BG[2] } } }).png().toBuffer();
}

async function pixels(png: Buffer) {
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  return {
    info,
    at: (x: number, y: number) => Array.from(data.subarray((y * info.width + x) * info.channels, (y * info.width + x) * info.channels + 3)),
  };
}

test('12 distinct class colours, fixed by label; readable text colour on each', (t) => {
  t.is(CLASS_COLORS.length, 12);
  t.is(new Set(CLASS_COLORS).size, 12);
  // Distinct enough to tell apart: every pair differs by > 60 in some channel.
  for (let i = 0; i < 12; i++) {
    for (let j = i + 1; j < 12; j++) {
      const [a, b] = [hexToRgb(CLASS_COLORS[i]!), hexToRgb(CLASS_COLORS[j]!)];
      t.true(Math.max(...a.map((v, k) => Math.abs(v - b[k]!))) > 60, `${CLASS_COLORS[i]} vs ${CLASS_COLORS[j]}`);
    }
  }
  t.is(classColor(2), '#ffe119');
  t.regex(classColor(12), /^#[0-9a-f]{6}$/);
  t.not(classColor(12), classColor(13));
  t.is(textColorOn('#ffe119'), '#000000'); // yellow: black text
  t.is(textColorOn('#4363d8'), '#ffffff'); // blue: white text
});

test('annotateImage: same size, box edges in the class colour at the expected pixels, inside untouched', async (t) => {
  const detections: DrawableDetection[] = [
    { box: [20, 40, 120, 130], score: 0.87, label: 2, category: 'knife' },
    { box: [130, 10, 190, 60], score: 0.5, label: 7, category: 'glass bottle' },
  ];
  const png = await annotateImage(await greyImage(200, 150), detections, { lineWidth: 3 });
  const { info, at } = await pixels(png);
  t.is(info.width, 200);
  t.is(info.height, 150);
  t.is(info.channels, 3);
  const knife = hexToRgb(CLASS_COLORS[2]!);
  const bottle = hexToRgb(CLASS_COLORS[7]!);
  // The 3 px line lies inside the box: columns 20..22 on the left, 117..119 on the right.
  for (const x of [20, 21, 22, 117, 118, 119]) t.deepEqual(at(x, 85), knife, `left/right edge x=${x}`);
  for (const y of [127, 128, 129]) t.deepEqual(at(70, y), knife, `bottom edge y=${y}`);
  t.deepEqual(at(110, 41), knife, 'top edge');
  t.deepEqual(at(19, 85), BG, 'just outside the left edge');
  t.deepEqual(at(120, 85), BG, 'just outside the right edge');
  t.deepEqual(at(70, 130), BG, 'just below the box');
  t.deepEqual(at(70, 85), BG, 'inside the box');
  // The tag sits above the box, filled with the class colour (its text starts a few px in).
  t.deepEqual(at(21, 30), knife, 'tag background');
  t.deepEqual(at(150, 30), BG, 'right of the tag');
  // The second box in its own colour.
  t.deepEqual(at(130, 35), bottle);
  t.deepEqual(at(189, 35), bottle);
  // Somewhere in the knife tag the text is drawn in black.
  let dark = 0;
  for (let x = 24; x < 60; x++) for (let y = 26; y < 39; y++) if (at(x, y).every((v) => v < 80)) dark++;
  t.true(dark > 10, `tag text pixels: ${dark}`);
});

test('annotateImage: boxes are clipped to the image, low scores can be filtered, bad boxes rejected', async (t) => {
  const img = await greyImage(100, 80);
  const png = await annotateImage(
    img,
    [
      { box: [-10, -10, 50, 50], score: 0.9, label: 0, category: 'blade' },
      { box: [60, 40, 90, 70], score: 0.2, label: 5, category: 'cans' },
    ],
    { lineWidth: 2, scoreThreshold: 0.3 },
  );
  const { at } = await pixels(png);
  const blade = hexToRgb(CLASS_COLORS[0]!);
  t.deepEqual(at(0, 30), blade, 'left edge at the image border');
  t.deepEqual(at(49, 30), blade, 'right edge');
  t.deepEqual(at(60, 55), BG, 'below the threshold: not drawn');
  await t.throwsAsync(annotateImage(img, [{ box: [0, 0, Number.NaN, 5], score: 1, label: 0, category: 'blade' }]), {
    instanceOf: LaxrayError,
    message: /detection 0: box must be 4 finite numbers/,
  });
  await t.throwsAsync(annotateImage(Buffer.from('not an image'), []), { instanceOf: LaxrayError, message: /cannot decode the image/ });
});

test('annotateImage accepts a path, a 16-bit grey image and a sharp instance with queued operations', async (t) => {
  const dir = tempDir('report');
  const file = path.join(dir, 'scan.png');
  const grey16 = Buffer.alloc(64 * 48 * 2, 0x80);
  await sharp(grey16, { raw: { width: 64, height: 48, channels: 1 } }).toColourspace('grey16').png().toFile(file);
  const fromPath = await pixels(await annotateImage(file, [{ box: [10, 10, 40, 30], score: 0.7, label: 9, category: 'vacuum cup' }], { lineWidth: 2 }));
  t.like(fromPath.info, { width: 64, height: 48, channels: 3 });
  t.deepEqual(fromPath.at(10, 20), hexToRgb(CLASS_COLORS[9]!));
  const resized = await pixels(await annotateImage(sharp(await greyImage(200, 100)).resize(100, 50), []));
  t.like(resized.info, { width: 100, height: 50 });
});

test('the text width table is DejaVu Sans (hand-checked advance widths)', (t) => {
  // '0' is 1303/2048 em, 'i' 569/2048 em, 'm' 1995/2048 em.
  t.is(textWidth('0', 2048), 1303);
  t.is(textWidth('im', 2048), 569 + 1995);
  t.is(textWidth('knife 0.87', 12), ((1186 + 1298 + 569 + 721 + 1260 + 651 + 1303 + 651 + 1303 + 1303) / 2048) * 12);
});

test('nice ticks and tick labels', (t) => {
  t.deepEqual(niceTicks(0, 3.3), { min: 0, max: 4, step: 1, values: [0, 1, 2, 3, 4] });
  t.deepEqual(niceTicks(0.3, 0.72).values, [0.3, 0.4, 0.5, 0.6, 0.7, 0.8]);
  t.deepEqual(niceTicks(0, 600, 8).values, [0, 100, 200, 300, 400, 500, 600]);
  t.deepEqual(niceTicks(5, 5).values.length > 1, true);
  t.is(formatTick(0.3, 0.1), '0.3');
  t.is(formatTick(0.25, 0.25), '0.25');
  t.is(formatTick(12000, 2000), '12k');
  t.is(formatTick(400, 100), '400');
});

test('movingAverage: centred mean inside, full-size linear fit at the ends, gaps kept (hand-computed)', (t) => {
  const ys = (pts: [number, number][]) => pts.map(([, y]) => (Number.isNaN(y) ? 'gap' : Math.round(y * 1e9) / 1e9));
  const zigzag = [0, 3, 0, 3, 0, 3, 0].map((y, i) => [i, y] as [number, number]);
  // Inside: means of 3. Ends: the flat fit over the first/last 3 points (mean 1).
  t.deepEqual(ys(movingAverage(zigzag, 3)), [1, 1, 2, 1, 2, 1, 1]);
  // With a gap: i0 fits idx 0..2 (y 1, 2, 6): slope 2.5 through (1, 3) -> 0.5 at idx 0;
  // i2 fits idx 1..3 where only (1, 2) and (2, 6) are finite -> 6; i4, i5 fit (4, 4) and (5, 10).
  const gappy: [number, number][] = [
    [1, 1],
    [2, 2],
    [3, 6],
    [4, Number.NaN],
    [5, 4],
    [6, 10],
  ];
  t.deepEqual(ys(movingAverage(gappy, 3)), [0.5, 3, 6, 'gap', 4, 10]);
  // A straight line is unchanged, ends included (no lag).
  const line = Array.from({ length: 20 }, (_, i) => [i, 2 * i + 1] as [number, number]);
  t.deepEqual(ys(movingAverage(line, 7)), ys(line));
});

test('loss plot: a real PNG with axes, labels, legend and each loss in its colour', async (t) => {
  const history = Array.from({ length: 300 }, (_, i) => ({
    iteration: i + 1,
    losses: { loss_cls: 1 / (1 + i / 50) + 0.02 * Math.sin(i), loss_bbox: 0.8 / (1 + i / 80) + 0.3 },
  }));
  const spec = lossCurvesPlot(history);
  const svg = renderLinePlotSvg(spec);
  for (const s of ['Training losses', '>iteration<', '>loss<', '>loss_cls<', '>loss_bbox<', '>300<']) t.true(svg.includes(s), s);
  t.false(svg.includes('loss_cls (raw)<'), 'raw curves are not in the legend');
  const png = await renderLinePlot(spec);
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  t.is(info.width, 960);
  t.is(info.height, 540);
  const count = (hex: string) => {
    const [r, g, b] = hexToRgb(hex);
    let c = 0;
    for (let i = 0; i < data.length; i += info.channels) if (Math.abs(data[i]! - r) < 12 && Math.abs(data[i + 1]! - g) < 12 && Math.abs(data[i + 2]! - b) < 12) c++;
    return c;
  };
  t.true(count('#4e79a7') > 500, 'loss_cls line'); // first series colour
  t.true(count('#f28e2b') > 500, 'loss_bbox line');
  t.true(count('#ffffff') > info.width * info.height * 0.5, 'white background');
  t.true(count('#333333') > 500, 'axes');
});

test('mAP plot: epochs on x, AP in % with a dot per validation; -1 (no ground truth) is a gap, a metric never measured is left out', async (t) => {
  const spec = metricCurvesPlot([
    { epoch: 1, values: { AP: 0.2, AP50: 0.4, APs: -1 } },
    { epoch: 2, values: { AP: 0.3, AP50: 0.5, APs: -1 } },
  ]);
  t.deepEqual(spec.series.map((s) => s.name), ['AP', 'AP50'], 'APs has no value at all: not drawn');
  t.deepEqual(spec.series[0]!.points, [
    [1, 20],
    [2, 30],
  ]);
  const gap = metricCurvesPlot([
    { epoch: 1, values: { AP: 0.2 } },
    { epoch: 2, values: { AP: -1 } },
  ]);
  t.true(Number.isNaN(gap.series[0]!.points[1]![1]), 'a single -1 is a gap');
  const svg = renderLinePlotSvg(spec);
  t.true(svg.includes('>AP (%)<') && svg.includes('>epoch<'));
  t.is((svg.match(/<circle /g) ?? []).length, 4 + 2, 'four data dots and two legend dots');
  const png = await renderLinePlot(spec);
  t.true(png.length > 5000);
  // An empty plot renders too (before the first validation).
  t.true(renderLinePlotSvg(metricCurvesPlot([])).includes('no data yet'));
});

test('formatTable: exact alignment on a hand example', (t) => {
  const rows: TableRow[] = [
    { name: 'overall', values: { AP: 0.5931, AP50: 0.718 } },
    { name: 'swiss army knife', values: { AP: 0.1, AP50: -1 } },
    { name: 'tin', values: { AP: 1 } },
  ];
  t.is(
    formatTable(rows),
    [
      'name                 AP  AP50',
      '----------------  -----  ----',
      'overall            59.3  71.8',
      'swiss army knife   10.0     -',
      'tin               100.0     -',
    ].join('\n'),
  );
  t.is(
    formatTable(rows.slice(0, 2), { nameHeader: 'class', percent: false, digits: 3, columns: ['AP50'] }),
    ['class              AP50', '----------------  -----', 'overall           0.718', 'swiss army knife      -'].join('\n'),
  );
  t.is(
    formatTable([{ name: 'run', values: { iterations: 1200, minutes: 3.25 } }], { percent: false, digits: { iterations: 0 }, nameHeader: '' }),
    ['     iterations  minutes', '---  ----------  -------', 'run        1200      3.3'].join('\n'),
  );
  t.is(
    formatTable(rows.slice(0, 1), { style: 'markdown' }),
    ['| name    |   AP | AP50 |', '|:--------|-----:|-----:|', '| overall | 59.3 | 71.8 |'].join('\n'),
  );
  // text cells as they are; a '|' is escaped in Markdown so it cannot end the cell
  t.is(
    formatTable([{ name: 'p3', values: { '|w1 - w2|': '1.2e-5', AP: '12.3 ± 0.4' } }], { style: 'markdown', nameHeader: 'level' }),
    ['| level | \\|w1 - w2\\| |         AP |', '|:------|------------:|-----------:|', '| p3    |      1.2e-5 | 12.3 ± 0.4 |'].join('\n'),
  );
  t.is(formatTable([{ name: 'p3', values: { q: '|w|' } }]), ['name    q', '----  ---', 'p3    |w|'].join('\n'));
});

test('formatSummary: titled sections, empty ones left out', (t) => {
  const text = formatSummary([
    { title: 'Overall', rows: [{ name: 'all', values: { AP: 0.5, AP50: 0.75 } }] },
    { title: 'Per class', rows: [] },
    { title: 'Challenging subset', rows: [{ name: 'all', values: { AP: 0.313, AP50: 0.377 } }] },
  ]);
  t.is(
    text,
    [
      'Overall',
      '=======',
      'name    AP  AP50',
      '----  ----  ----',
      'all   50.0  75.0',
      '',
      'Challenging subset',
      '==================',
      'name    AP  AP50',
      '----  ----  ----',
      'all   31.3  37.7',
      '',
    ].join('\n'),
  );
});

test('writeTrainingReport writes loss.png, map.png and summary.txt into the run directory', async (t) => {
  const dir = tempDir('report');
  const files = await writeTrainingReport(path.join(dir, 'run'), {
    losses: [
      { iteration: 1, losses: { loss: 2 } },
      { iteration: 2, losses: { loss: 1.5 } },
    ],
    metrics: [{ epoch: 1, values: { AP: 0.1 } }],
    summary: [{ title: 'Overall', rows: [{ name: 'all', values: { AP: 0.1 } }] }],
  });
  t.deepEqual(Object.keys(files).sort(), ['lossPlot', 'metricPlot', 'summary']);
  t.like(await sharp(files.lossPlot!).metadata(), { format: 'png', width: 960, height: 540 });
  t.like(await sharp(files.metricPlot!).metadata(), { format: 'png' });
  t.regex(await readFile(files.summary!, 'utf8'), /^Overall\n=======\nname {4}AP\n/);
  t.deepEqual(await writeTrainingReport(path.join(dir, 'empty'), {}), {});
});

test('a long loss history (100k iterations) renders, thinned to a few points per pixel column', async (t) => {
  const history = Array.from({ length: 100_000 }, (_, i) => ({ iteration: i, losses: { loss: 1 / (1 + i / 5000) + 0.1 * Math.sin(i * 1.7) } }));
  const spec = lossCurvesPlot(history);
  const svg = renderLinePlotSvg(spec);
  const commands = (svg.match(/[ML]\d/g) ?? []).length;
  t.true(commands < 2 * 4 * 960, `path commands: ${commands}`); // raw + smoothed, at most 4 per column
  t.true(svg.includes('>100k<'), 'x ticks in thousands');
  const { width } = await sharp(await renderLinePlot(spec)).metadata();
  t.is(width, 960);
});
