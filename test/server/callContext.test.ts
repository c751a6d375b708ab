import test from 'ava';
import { EventEmitter } from 'node:events';
import { createCallContext } from '../../src/server/callContext';
import { toStatus } from '../../src/server/status';
import { status } from '@grpc/grpc-js';
import { delay } from '../helpers/watchGateway';

class FakeCall extends EventEmitter {
  cancelled = false;
  constructor(private readonly deadline: Date | number = Infinity) {
    super();
  }
  getDeadline() {
    return this.deadline;
  }
  getPeer() {
    return '127.0.0.1:4000';
  }
}

test('the deadline aborts the signal with a TimeoutError (DEADLINE_EXCEEDED)', async (t) => {
  const call = new FakeCall(new Date(Date.now() + 30));
  const ctx = createCallContext(call as never);
  t.teardown(() => ctx.close());
  await delay(60);
  t.true(ctx.signal.aborted);
  t.is((ctx.signal.reason as Error).name, 'TimeoutError');
  t.is(toStatus(new Error('x'), ctx.signal).code, status.DEADLINE_EXCEEDED);
});

test('a client cancel well before the deadline aborts with an AbortError (CANCELLED)', (t) => {
  const call = new FakeCall(Date.now() + 60_000);
  const ctx = createCallContext(call as never);
  call.emit('cancelled', 'cancelled');
  t.is((ctx.signal.reason as Error).name, 'AbortError');
  t.is(toStatus(new Error('x'), ctx.signal).code, status.CANCELLED);
  ctx.close();
});

test('a call already cancelled or past its deadline starts aborted', (t) => {
  const gone = Object.assign(new FakeCall(), { cancelled: true });
  t.true(createCallContext(gone as never).signal.aborted);
  const late = createCallContext(new FakeCall(Date.now() - 5) as never);
  t.is((late.signal.reason as Error).name, 'TimeoutError');
});

test('close() removes the listener and the timer', async (t) => {
  const call = new FakeCall(Date.now() + 30);
  const ctx = createCallContext(call as never);
  t.is(call.listenerCount('cancelled'), 1);
  t.is(ctx.peer, '127.0.0.1:4000');
  ctx.close();
  t.is(call.listenerCount('cancelled'), 0);
  await delay(60);
  t.false(ctx.signal.aborted, 'no timer fired after close');
});

test('a deadline 30 days out (past what one Node timer holds) does not expire the call at once, and warns of nothing', async (t) => {
  const call = new FakeCall(new Date(Date.now() + 30 * 86_400_000));
  const ctx = createCallContext(call as never);
  t.teardown(() => ctx.close());
  await delay(30);
  t.false(ctx.signal.aborted, 'still running: the timer is re-armed in steps of at most 2^31-1 ms');
});
