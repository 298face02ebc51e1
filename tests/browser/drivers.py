"""What each page runs in the browser: the SDK loaded as its README says, then every call it has."""

from __future__ import annotations

# analytics-next, npm form: only cdnURL changes (settings come from the gateway, and name it as apiHost).
SEGMENT = """
async ({gateway, key, options}) => {
  const errors = [];
  let analytics;
  try {
    [analytics] = await AnalyticsNext.AnalyticsBrowser.load({writeKey: key, cdnURL: gateway}, options);
  } catch (error) {
    return {loadError: String(error)};
  }
  analytics.on('error', (e) => errors.push(String(e.code) + ': ' + String(e.reason)));
  const contexts = await Promise.all([
    analytics.identify('web-user', {email: 'ada@example.com', plan: 'pro'}),
    analytics.track('Order Completed', {total: 19.99, currency: 'EUR'}),
    analytics.page('Docs', 'Install', {path: '/docs/install'}),
    analytics.group('acme', {name: 'Acme', seats: 12}),
    analytics.alias('web-user', 'anon-web'),
    analytics.screen('Settings', 'Profile', {tab: 'privacy'}),
  ]);
  return {
    anonymousId: analytics.user().anonymousId(),
    messageIds: contexts.map((ctx) => ctx.event.messageId),
    failed: contexts.filter((ctx) => ctx.failedDelivery()).map((ctx) => String(ctx.failedDelivery().reason)),
    errors,
  };
}
"""

# RudderStack v3: dataPlaneUrl and configUrl both at the gateway; callbacks say each call was queued.
RUDDERSTACK = """
async ({gateway, key, options, waitMs}) => {
  const errors = [];
  const analytics = new rudderanalytics.RudderAnalytics();
  const loaded = await new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), waitMs);
    analytics.load(key, gateway, {
      configUrl: gateway, logLevel: 'NONE', polyfillIfRequired: false,
      onLoaded: () => { clearTimeout(timer); resolve(true); }, ...options,
    });
  });
  if (!loaded) return {loadError: 'not loaded'};
  const call = (fn) => new Promise((resolve) => fn(resolve));
  await call((done) => analytics.identify('web-user', {email: 'ada@example.com', plan: 'pro'}, {}, done));
  await call((done) => analytics.track('Order Completed', {total: 19.99, currency: 'EUR'}, {}, done));
  await call((done) => analytics.page('Docs', 'Install', {path: '/docs/install'}, {}, done));
  await call((done) => analytics.group('acme', {name: 'Acme', seats: 12}, {}, done));
  await call((done) => analytics.alias('web-user', 'anon-web', {}, done));
  return {anonymousId: analytics.getAnonymousId(), errors};
}
"""

# analytics.js's snippet form: a stub that queues calls, then the standalone library (here from the
# page's own origin); analytics._cdn is the one setting that points it at the gateway.
SEGMENT_SNIPPET = """
({gateway, key, library}) => {
  const analytics = window.analytics = [];
  for (const method of ['identify', 'track', 'page', 'group', 'alias', 'screen']) {
    analytics[method] = (...args) => { analytics.push([method, ...args]); return analytics; };
  }
  analytics._writeKey = key;
  analytics._cdn = gateway;
  analytics.identify('web-user', {email: 'ada@example.com', plan: 'pro'});
  analytics.track('Order Completed', {total: 19.99, currency: 'EUR'});
  analytics.page('Docs', 'Install', {path: '/docs/install'});
  analytics.group('acme', {name: 'Acme', seats: 12});
  analytics.alias('web-user', 'anon-web');
  analytics.screen('Settings', 'Profile', {tab: 'privacy'});
  const script = document.createElement('script');
  script.src = library;
  document.head.appendChild(script);
}
"""
