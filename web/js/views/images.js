// Images and releases: what the server holds, and each product's releases.
import { api } from '../api.js';
import { h, append, bytes, time, table, rendered, versionText } from '../dom.js';

export async function view(main, _params, _query, signal) {
  const [imgs, prods] = await Promise.all([api('/images', { signal }), api('/products', { signal })]);
  const rels = await Promise.all(prods.products.map((p) =>
    api(`/products/${encodeURIComponent(p.name)}/releases`, { signal }).then((r) => [p, r.releases])));
  const byId = new Map(imgs.images.map((i) => [i.id, i]));
  const imgName = (id) => { const i = byId.get(id) || [...byId.values()].find((x) => x.sha256 === id);
    return i ? `${i.function} ${i.index} ${versionText(i)}` : id.slice(0, 12); };
  append(main, h('h1', {}, 'Images & releases'),
    h('h2', {}, `Images (${imgs.images.length})`),
    table([{ label: 'Module' }, { label: 'Version' }, { label: 'Platform' }, { label: 'Size', num: true },
      { label: 'Id (SHA-256 of the file)' }, { label: 'Signer key' }, { label: 'Uploaded' }],
    imgs.images.map((i) => [`${i.function} ${i.index}`, versionText(i), String(i.platform), bytes(i.file_size),
      h('code', { title: i.id }, i.id.slice(0, 16)), h('code', {}, i.key_id), time(i.created_at)]), { id: 'images' }),
    h('h2', {}, 'Releases'),
    rels.length ? h('div', {}, rels.map(([p, list]) => h('div', { class: 'panel' },
      h('h2', {}, `${p.name} `, h('span', { class: 'muted' }, `platform ${p.platform}`)),
      list.length ? table([{ label: 'Version' }, { label: 'Channel' }, { label: 'Images' }, { label: 'Notes' }, { label: 'Created' }],
        list.map((r) => [r.version, r.channel, r.images.map(imgName).join(', '), h('span', { class: 'notes' }, r.notes || ''), time(r.created_at)]))
        : h('p', { class: 'muted' }, 'No release yet.')))) : h('p', { class: 'muted' }, 'No product yet.'));
  rendered('images');
}
