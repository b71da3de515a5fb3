// A pool worker entry that fails outside any task, the way an unobserved rejection or a throwing timer in
// an actor would: its task completes, then the thread throws.

import type { ActorTask } from '../../src/messages/actor-messages.js';

export default function faultWorker(task: ActorTask): Promise<void> {
  task.port.close();
  if (task.kind === 'http-relay' && task.requestId === 'throw-later') {
    setTimeout(() => {
      throw new Error('thrown outside any task');
    }, 20);
  }
  return Promise.resolve();
}
