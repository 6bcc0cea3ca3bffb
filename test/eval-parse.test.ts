// The fast results-file reader gives exactly JSON.parse's numbers, and hands
// anything it does not fully understand back to JSON.parse.
import test from 'ava';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadDetectionsFile } from '../lib/eval/files.js';
import { parseResultsFast, readResultsFileFast } from '../lib/eval/parse-results.js';
import { tempDir } from './helpers/temp_dir.js';

const enc = (s: string): Buffer => Buffer.from(s, 'utf8');

function viaJson(text: string): { imageId: number[]; categoryId: number[]; box: number[]; score: number[] } {
  const arr = JSON.parse(text) as { image_id: number; category_id: number; bbox: number[]; score: number }[];
  return {
    imageId: arr.map((d) => d.image_id),
    categoryId: arr.map((d) => d.category_id),
    box: arr.flatMap((d) => d.bbox),
    score: arr.map((d) => d.score),
  };
}

function sameAsJsonParse(t: { deepEqual(a: unknown, b: unknown, m?: string): void; not(a: unknown, b: unknown, m?: string): void }, text: string): void {
  const fast = parseResultsFast(enc(text));
  t.not(fast, null, 'fast path refused plain results');
  const ref = viaJson(text);
  // Object.is: -0 and 0 differ, NaN equals NaN — stricter than ===
  const same = (a: ArrayLike<number>, b: number[]): boolean => a.length === b.length && b.every((v, i) => Object.is(a[i], v));
  t.deepEqual(
    [same(fast!.imageId, ref.imageId), same(fast!.categoryId, ref.categoryId), same(fast!.box, ref.box), same(fast!.score, ref.score)],
    [true, true, true, true],
  );
}

test('numbers in every JSON form decode exactly as JSON.parse decodes them', (t) => {
  const nums = [
    '0', '-0', '1', '-1', '0.1', '0.30000000000000004', '123.456', '1e-7', '1E+3', '2.5e-3', '-0.0',
    '9007199254740993', '123456789012345678901234567890', '0.000000000000000000000000001', '1.7976931348623157e308',
    '5e-324', '2.2250738585072014e-308', '4.9406564584124654e-324', '1e22', '1e23', '8.98846567431158e307',
    '0.1234567890123456789', '100000000000000000000000', '3.141592653589793238462643383279',
  ];
  const text = '[' + nums.map((n, i) => `{"image_id":${n},"category_id":${nums[(i + 1) % nums.length]},"bbox":[${n},${n},${n},${n}],"score":${n}}`).join(',') + ']';
  sameAsJsonParse(t, text);
});

test('random doubles written in several styles decode exactly', (t) => {
  let s = 12345;
  const rand = (): number => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 4294967296;
  };
  const parts: string[] = [];
  for (let i = 0; i < 5000; i++) {
    const v = (rand() - 0.3) * 10 ** Math.floor(rand() * 12 - 4);
    const styles = [String(v), v.toFixed(Math.floor(rand() * 8)), v.toPrecision(1 + Math.floor(rand() * 20)), v.toExponential(Math.floor(rand() * 18))];
    const f = (): string => styles[Math.floor(rand() * styles.length)]!;
    parts.push(`{"image_id":${i},"category_id":${f()},"bbox":[${f()},${f()},${f()},${f()}],"score":${f()}}`);
  }
  sameAsJsonParse(t, `[${parts.join(',')}]`);
});

test('whitespace, key order, extra fields of any JSON type and a BOM are accepted', (t) => {
  const text =
    '\ufeff [\n  {\n    "score" : 0.5 ,\n\t"bbox":[ 1 , 2.5 ,3,4 ],\r\n "id": 17, "area": 12.0, "iscrowd": false, "note": "a \\"quoted\\" \\u00e9 string",\n' +
    '    "segmentation": [[1, 2, 3, 4.5e1]], "meta": {"a": [true, null, {"b": []}], "c": {}},\n    "category_id": 3, "image_id": 7 } ,\n' +
    ' {"image_id":8,"category_id":1,"bbox":[0,0,0,0],"score":1,"image_id":9}\n] \n';
  const fast = parseResultsFast(enc(text));
  t.not(fast, null);
  t.deepEqual(Array.from(fast!.imageId), [7, 9]); // a repeated key: the last wins, as in JSON.parse
  t.deepEqual(Array.from(fast!.categoryId), [3, 1]);
  t.deepEqual(Array.from(fast!.box), [1, 2.5, 3, 4, 0, 0, 0, 0]);
  t.deepEqual(Array.from(fast!.score), [0.5, 1]);
  t.is(parseResultsFast(enc('[]'))!.count, 0);
  t.is(parseResultsFast(enc(' [ ] '))!.count, 0);
});

test('anything not plain is handed back (null) for JSON.parse to judge', (t) => {
  const refused = [
    '', '{}', '[', '[{}]', '[1]', '[{"image_id":1}]', '[{"image_id":1,"category_id":1,"bbox":[0,0,1],"score":1}]',
    '[{"image_id":1,"category_id":1,"bbox":[0,0,1,1],"score":"1"}]', '[{"image_id":1,"category_id":1,"bbox":[0,0,1,1],"score":1},]',
    '[{"image_id":01,"category_id":1,"bbox":[0,0,1,1],"score":1}]', '[{"image_id":1.,"category_id":1,"bbox":[0,0,1,1],"score":1}]',
    '[{"image\\u005fid":1,"category_id":1,"bbox":[0,0,1,1],"score":1}]', '[{"image_id":1,"category_id":1,"bbox":[0,0,1,1],"score":1}] x',
    '[{"image_id":1,"category_id":1,"bbox":[0,0,1,1],"score":1,"x":[1,,2]}]', '[{"image_id":1,"category_id":1,"bbox":[0,0,1,1],"score":NaN}]',
  ];
  for (const text of refused) t.is(parseResultsFast(enc(text)), null, text);
});

test('a file the fast path refuses still loads, through JSON.parse, with the same numbers', async (t) => {
  const dir = tempDir('eval');
  const file = path.join(dir, 'escaped.json');
  writeFileSync(file, '[{"image\\u005fid": 3, "category_id": 2, "bbox": [1, 2, 3, 4], "score": 0.25}]');
  const raw = await loadDetectionsFile(file);
  t.is(raw.count, 1);
  t.deepEqual([raw.imageId[0], raw.categoryId[0], Array.from(raw.box), raw.score[0]], [3, 2, [1, 2, 3, 4], 0.25]);
});

test('reading in chunks: objects and numbers cut at any byte give the same columns', (t) => {
  const dir = tempDir('eval');
  const entries = Array.from({ length: 60 }, (_, i) => ({
    image_id: 1000 + i,
    category_id: (i % 7) + 1,
    bbox: [i * 1.25, 0.001 * i, 10 + i / 3, 5e-3 * i],
    score: 1 / (i + 3),
    ...(i % 5 === 0 ? { segmentation: [[1, 2, 3]], note: 'x"}]{[,' } : {}),
    ...(i % 9 === 0 ? { flag: true, nothing: null } : {}),
  }));
  const text = '\ufeff' + JSON.stringify(entries, null, 3);
  const file = path.join(dir, 'r.json');
  writeFileSync(file, text);
  const whole = parseResultsFast(Buffer.from(text, 'utf8'))!;
  t.not(whole, null);
  for (const chunk of [1, 2, 3, 5, 8, 13, 64, 1000]) {
    const r = readResultsFileFast(file, chunk);
    t.not(r, null, `chunk ${chunk}`);
    t.deepEqual([Array.from(r!.imageId), Array.from(r!.categoryId), Array.from(r!.box), Array.from(r!.score)], [Array.from(whole.imageId), Array.from(whole.categoryId), Array.from(whole.box), Array.from(whole.score)], `chunk ${chunk}`);
  }
  // malformed anywhere is refused at any chunk size
  t.true(text.includes('"score": 0.25'));
  writeFileSync(file, text.replace('"score": 0.25', '"score": 0..25'));
  for (const chunk of [1, 7, 1 << 20]) t.is(readResultsFileFast(file, chunk), null);
  writeFileSync(file, text.slice(0, -1)); // no closing bracket
  for (const chunk of [1, 7, 1 << 20]) t.is(readResultsFileFast(file, chunk), null);
});
