// Batched post-processing (the whole batch at once, one copy to the host) gives
// the detections of the per-image path it replaced: test/fixtures/postprocess
// holds that path's detections on seeded random head outputs (make_fixture.ts
// recorded them before the rewrite). Both NMS implementations are checked: the
// host scan (CPU default) and the tensor-only one CUDA uses, run here on the CPU.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { native } from '../lib/native.js';
import { SCENES, sceneSpec } from './fixtures/postprocess/scenes.js';
import { fixture } from './helpers/paths.js';

type Expected = Record<string, { boxes: number[]; scores: number[]; labels: number[] }[]>;
const expected = JSON.parse(readFileSync(fixture('postprocess', 'detections.json'), 'utf8')) as Expected;

for (const nms of ['host', 'device'] as const) {
  for (const scene of SCENES) {
    test(`${nms} NMS: ${scene.name}`, async (t) => {
      const spec = sceneSpec(scene);
      const result = await native.headCheck({ ...spec, postprocess: { ...spec.postprocess, nms } }, 'cpu');
      const want = expected[scene.name]!;
      t.is(result.detections.length, want.length);
      for (let i = 0; i < want.length; i++) {
        const got = result.detections[i]!;
        t.deepEqual(Array.from(got.labels), want[i]!.labels, `image ${i}: labels in order`);
        t.is(got.scores.length, want[i]!.scores.length, `image ${i}: count`);
        got.scores.forEach((s, k) => t.true(Math.abs(s - want[i]!.scores[k]!) <= 1e-6, `image ${i}, detection ${k}: score ${s} vs ${want[i]!.scores[k]}`));
        got.boxes.forEach((v, k) => t.true(Math.abs(v - want[i]!.boxes[k]!) <= 1e-4 * Math.max(1, Math.abs(v)), `image ${i}: box value ${k}: ${v} vs ${want[i]!.boxes[k]}`));
      }
    });
  }
}

test('the fixture exercises what matters: truncation per image, an image without detections, suppression', (t) => {
  const counts = SCENES.map((s) => expected[s.name]!.map((d) => d.labels.length));
  t.true(counts[0]!.every((c) => c === 25), 'maxPerImage reached in every image of scene 0');
  t.true(counts[4]!.includes(0), 'an image with nothing above the threshold');
  // Suppression happened: fewer detections than the pairs above the threshold would give.
  t.true(counts[3]![0]! < 40);
});
