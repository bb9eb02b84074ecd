/** The pixels of the kept samples and their training-split statistics. */
import { IMG_OK } from './images.ts';
import type { ImageSet } from './images.ts';
import { sharedU8 } from './shared.ts';

/**
 * Compact the image set to the kept samples in place (`keep` is increasing, so no row is overwritten before
 * it is moved), zero the rows without an image, and take the mean and std of pixels/255 over the training
 * split's images (0.5 and 1 when there are none).
 */
export function keepPixels(images: ImageSet, keep: number[], split: Uint8Array): { pixels: Uint8Array; hasImage: Uint8Array; pixelMean: number; pixelStd: number } {
  const S = images.S, SS = S * S, n = keep.length;
  const pixAll = images.pixels;
  const hasImage = sharedU8(n);
  let pc = 0, p1 = 0, p2 = 0;
  keep.forEach((i, s) => {
    if (images.status[i] !== IMG_OK) {
      pixAll.fill(0, s * SS, (s + 1) * SS);
      return;
    }
    hasImage[s] = 1;
    if (i !== s) pixAll.copyWithin(s * SS, i * SS, (i + 1) * SS);
    if (split[s] === 0) {
      let a = 0, b = 0;
      for (let k = s * SS; k < (s + 1) * SS; k++) {
        const v = pixAll[k];
        a += v;
        b += v * v;
      }
      pc += SS;
      p1 += a;
      p2 += b;
    }
  });
  const pixels = new Uint8Array(pixAll.buffer, pixAll.byteOffset, n * SS);
  const pixelMean = pc ? p1 / pc / 255 : 0.5;
  const pixelVar = pc ? p2 / pc / (255 * 255) - pixelMean * pixelMean : 0;
  const pixelStd = pixelVar > 1e-12 ? Math.sqrt(pixelVar) : 1;
  return { pixels, hasImage, pixelMean, pixelStd };
}
