// SPDX-License-Identifier: MIT
// Inline SVG sparklines for the per-app CPU and memory series.

const SVG = 'http://www.w3.org/2000/svg';

/**
 * Renders values (numbers, oldest first) into an <svg> of width×height;
 * max is the top of the scale (e.g. 100 for percent).  Returns the svg.
 */
export function sparkline(values, { width = 120, height = 28, max = 100, label = '' } = {}) {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('width', String(width));
  svg.setAttribute('height', String(height));
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', label);
  svg.classList.add('spark');
  const top = Math.max(max, ...values, 1);
  const n = values.length;
  if (n > 0) {
    // one sample is drawn as a flat line so that it is visible at all
    const vals = n === 1 ? [values[0], values[0]] : values;
    const step = width / (vals.length - 1);
    const pts = vals.map((v, i) => {
      const y = height - 1 - (Math.max(0, v) / top) * (height - 2);
      return `${(i * step).toFixed(1)},${y.toFixed(1)}`;
    });
    const area = document.createElementNS(SVG, 'polygon');
    area.setAttribute('points', `0,${height} ${pts.join(' ')} ${width},${height}`);
    area.setAttribute('class', 'spark-area');
    svg.appendChild(area);
    const line = document.createElementNS(SVG, 'polyline');
    line.setAttribute('points', pts.join(' '));
    line.setAttribute('class', 'spark-line');
    svg.appendChild(line);
  }
  return svg;
}
