// Reloads the resident's QR image well before its token expires, and when
// the page comes back into view, so the code shown is never stale.
'use strict';
(function () {
  const img = document.getElementById('qr');
  if (!img) return;
  const every = (parseInt(img.dataset.refresh, 10) || 240) * 1000;
  const base = img.getAttribute('src');
  let last = Date.now();
  const reload = () => {
    last = Date.now();
    img.src = base + (base.includes('?') ? '&' : '?') + 't=' + last;
  };
  setInterval(reload, every);
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible' && Date.now() - last > every / 2) reload();
  });
})();
