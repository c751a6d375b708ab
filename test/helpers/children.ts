/**
 * Every child process a test starts (redis-server, gateway and replica processes) is tracked here,
 * so none outlives the test run: they are SIGKILLed on a normal exit, and a detached watchdog per
 * child kills it once this process is gone. The watchdog matters because ava SIGKILLs a worker
 * whose test times out, and then no 'exit' handler runs. It exits on its own with its child.
 */
import { spawn, type ChildProcess } from 'node:child_process';

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

export function track<C extends ChildProcess>(child: C): C {
  live.add(child);
  child.once('exit', () => live.delete(child));
  if (child.pid) {
    const script = `while kill -0 ${process.pid} 2>/dev/null && kill -0 ${child.pid} 2>/dev/null; do sleep 1; done; kill -9 ${child.pid} 2>/dev/null`;
    spawn('sh', ['-c', script], { detached: true, stdio: 'ignore' }).unref();
  }
  return child;
}
