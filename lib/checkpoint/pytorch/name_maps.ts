// Parameter names between laxray and the PyTorch projects people bring weights
// from. laxray's names follow torchvision's ResNet and mmdetection's heads, so
// the maps are small:
//
//   mmdetection                               laxray
//   backbone.conv1.weight, backbone.layer1.0.*  backbone.* (same: torchvision's ResNet names)
//   neck.lateral_convs.N.conv.{weight,bias}    neck.lateral_convs.N.{weight,bias}
//   neck.fpn_convs.N.conv.{weight,bias}        neck.fpn_convs.N.{weight,bias}
//   bbox_head.cls_convs.N.{conv,gn}.*          head.cls_convs.N.{conv,gn}.*  (also reg_convs)
//   bbox_head.atss_{cls,reg,centerness}.*      head.atss_{cls,reg,centerness}.*
//   bbox_head.gfl_{cls,reg}.* (GFL heads)      head.atss_{cls,reg}.*
//   bbox_head.reg_conf.{0,2}.*                 head.reg_conf.{0,2}.*  (GFLv2 / the authors' LA heads)
//   bbox_head.scales.N.scale                   head.scales.N.scale
//   bbox_head.integral.project                 (dropped: the constant 0..reg_max, computed by laxray)
//
//   torchvision ResNet: laxray's backbone.* without the prefix (fc.* has no counterpart).
//
// The maps rename; they do not depend on tensor shapes.
import { LaxrayError } from '../../errors.js';

export type SourceLayout = 'laxray' | 'mmdet';
export type ExportLayout = 'laxray' | 'torchvision' | 'mmdet';

export const MMDET_INTEGRAL = 'bbox_head.integral.project';

/** mmdetection name -> laxray name, or null for a tensor laxray does not keep. */
export function mmdetToLaxray(name: string): string | null {
  if (name === MMDET_INTEGRAL) return null;
  const neck = /^neck\.(lateral_convs|fpn_convs)\.(\d+)\.conv\.(weight|bias)$/.exec(name);
  if (neck) return `neck.${neck[1]}.${neck[2]}.${neck[3]}`;
  if (name.startsWith('bbox_head.')) return `head.${name.slice('bbox_head.'.length).replace(/^gfl_(cls|reg)\./, 'atss_$1.')}`;
  return name;
}

/** laxray name -> mmdetection name (the authors' ATSSLAclsHead / ATSSLAregHead, mmdetection's ATSSHead). */
export function laxrayToMmdet(name: string): string {
  const neck = /^neck\.(lateral_convs|fpn_convs)\.(\d+)\.(weight|bias)$/.exec(name);
  if (neck) return `neck.${neck[1]}.${neck[2]}.conv.${neck[3]}`;
  if (name.startsWith('head.')) return `bbox_head.${name.slice('head.'.length)}`;
  return name;
}

/** laxray name -> torchvision ResNet name, or null outside the backbone. */
export function laxrayToTorchvision(name: string): string | null {
  return name.startsWith('backbone.') ? name.slice('backbone.'.length) : null;
}

/** 'mmdet' when the names are mmdetection's (a bbox_head, or ConvModule-wrapped FPN convs). */
export function detectLayout(names: Iterable<string>): SourceLayout {
  for (const name of names) {
    if (name.startsWith('bbox_head.') || /^neck\.(lateral_convs|fpn_convs)\.\d+\.conv\./.test(name)) return 'mmdet';
  }
  return 'laxray';
}

const TORCHVISION_RESNET_TOP = /^(conv1|bn1|layer[1-4]|fc)\./;

/**
 * Names of a ResNet for the backbone: torchvision's as they are; from a
 * detector or classifier checkpoint (mmdetection, mmpretrain, laxray), the
 * `backbone.` entries without the prefix. Returns null for names to leave out.
 */
export function backboneName(name: string, names: readonly string[]): string | null {
  const prefixed = !names.some((n) => TORCHVISION_RESNET_TOP.test(n)) && names.some((n) => n.startsWith('backbone.'));
  if (!prefixed) return name;
  return name.startsWith('backbone.') ? name.slice('backbone.'.length) : null;
}

/** Renames a map's keys; names mapped to null are collected in `dropped`. */
export function renameAll<T>(entries: Iterable<[string, T]>, rename: (name: string) => string | null): { renamed: Map<string, T>; dropped: string[] } {
  const renamed = new Map<string, T>();
  const dropped: string[] = [];
  for (const [name, value] of entries) {
    const to = rename(name);
    if (to === null) {
      dropped.push(name);
      continue;
    }
    if (renamed.has(to)) throw new LaxrayError('CHECKPOINT_ERROR', `two tensors map to the name '${to}' (one of them is '${name}'): the file mixes naming schemes`);
    renamed.set(to, value);
  }
  return { renamed, dropped };
}
