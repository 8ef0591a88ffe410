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
    const step = n > 1 ? width / (n - 1) : 0;
    const pts = values.map((v, i) => {
      const x = n > 1 ? i * step : width;
      const y = height - 1 - (Math.max(0, v) / top) * (height - 2);
      return `${x.toFixed(1)},${y.toFixed(1)}`;
    });
    const area = document.createElementNS(SVG, 'polygon');
    area.setAttribute('points', `${n > 1 ? 0 : width},${height} ${pts.join(' ')} ${width},${height}`);
    area.setAttribute('class', 'spark-area');
    svg.appendChild(area);
    const line = document.createElementNS(SVG, 'polyline');
    line.setAttribute('points', pts.join(' '));
    line.setAttribute('class', 'spark-line');
    svg.appendChild(line);
  }
  return svg;
}
