/**
 * undici without its index where we can: the index also loads fetch, WebSocket, EventSource, caches and
 * interceptors — 80-100 ms on this machine against 30-40 ms for the Agent and `request` we use, paid by every
 * agent process (git-lfs starts up to 8) at its first request. undici ships no `exports` map, so these paths are
 * files of the package; if a release ever moves them, the index is loaded instead. With a proxy configured the
 * index is loaded anyway: its proxy agent tunnels through `Dispatcher.prototype.connect`, which the index installs.
 */
import { createRequire } from 'node:module';
import type * as Undici from 'undici';

type Request = (
  url: string,
  opts: Omit<Undici.Dispatcher.RequestOptions, 'origin' | 'path'> & { dispatcher: Undici.Dispatcher },
) => Promise<Undici.Dispatcher.ResponseData>;

interface Parts {
  /** Which way it was loaded (a test keeps the light way from silently turning into the index). */
  loadedFrom: 'parts' | 'index';
  Agent: typeof Undici.Agent;
  /** undici's `request(url, options)`; a dispatcher is always given. */
  request: Request;
}

const require = createRequire(import.meta.url);

function load(): Parts {
  try {
    const Agent = require('undici/lib/dispatcher/agent.js');
    const api = require('undici/lib/api/index.js');
    if (typeof Agent !== 'function' || typeof api?.request !== 'function') throw new Error('unexpected undici layout');
    // What the index's request() does before it calls the same function on the dispatcher.
    const request: Request = (url, opts) => {
      const u = new URL(url);
      return api.request.call(opts.dispatcher, { ...opts, origin: u.origin, path: `${u.pathname}${u.search}` });
    };
    return { loadedFrom: 'parts', Agent, request };
  } catch {
    const full = require('undici') as typeof Undici;
    return { loadedFrom: 'index', Agent: full.Agent, request: (url, opts) => full.request(url, opts) };
  }
}

export const { loadedFrom, Agent, request } = load();

/** The proxy-aware dispatcher class (loads undici's index: see above). */
export function envHttpProxyAgent(): typeof Undici.EnvHttpProxyAgent {
  return (require('undici') as typeof Undici).EnvHttpProxyAgent;
}
