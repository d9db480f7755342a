/** Processor for queue `outreach`: checks, reminders, answers, resends and the feedback question, through the contact policy. */
import type { Job } from "bullmq";
import { sendAdvocateText } from "../engine/outreach/advocate.ts";
import {
  type ContactDeps,
  checkCase,
  noReply,
  type OutreachJob,
  reconcile,
  resend,
  respond,
} from "../engine/outreach/contact.ts";
import { askFeedback } from "../engine/outreach/feedback.ts";

export function outreachProcessor(deps: ContactDeps) {
  return async (job: Job<OutreachJob>) => {
    // On the last attempt a passing failure is recorded as final and handed to a person.
    const finalAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    const data = job.data;
    switch (data.type) {
      case "check":
        return checkCase(deps, data, job.id ?? job.name, finalAttempt);
      case "no-reply":
        return noReply(deps, data, job.id ?? job.name, finalAttempt);
      case "respond":
        return respond(deps, data, finalAttempt);
      case "resend":
        return resend(deps, data, finalAttempt);
      case "reconcile":
        return reconcile(deps, data);
      case "advocate":
        return sendAdvocateText(deps, data, finalAttempt);
      case "feedback":
        return askFeedback(deps, data, job.id ?? job.name, finalAttempt);
    }
  };
}
