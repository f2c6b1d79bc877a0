import { connect, QuorumKvError } from '../../src/client/index.js';
const kv = connect({ urls: ['http://127.0.0.1:17000', 'http://127.0.0.1:19999'], discover: true });
console.log(await kv.put('x', 'héllo'));
const g = await kv.get('x'); console.log(g?.text(), g?.version, g?.replicasAnswered);
console.log(await kv.get('nope'));
console.log(await kv.delete('x'));
console.log(await kv.batch([{op:'put', key:'b1', value:'1'}, {op:'get', key:'b1'}, {op:'get', key:'zz'}, {op:'delete', key:'b1'}]));
console.log(kv.nodeUrls());
try { await kv.get('x', {consistency: 'bad' as any}); } catch (e) { console.log((e as QuorumKvError).code, (e as Error).message); }
try { await kv.put('k'.repeat(2000), 'x'); } catch (e) { console.log((e as QuorumKvError).code, (e as QuorumKvError).status, (e as Error).message); }
try { await kv.create('a', 'x'); } catch (e) { console.log((e as QuorumKvError).code, (e as Error).message, (e as QuorumKvError).details); }
console.log(await kv.read('a'));
console.log(await kv.admin.overview());
const ac = new AbortController(); ac.abort();
try { await kv.get('a', {signal: ac.signal}); } catch (e) { console.log((e as QuorumKvError).code); }
try { await kv.get('a', {signal: AbortSignal.timeout(1)}); } catch (e) { console.log((e as QuorumKvError).code); }
const bad = connect('http://127.0.0.1:19998');
try { await bad.get('a'); } catch (e) { console.log((e as QuorumKvError).code, (e as Error).message); }
await bad.close();
await kv.close();
