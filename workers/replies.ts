/** Processor for queue `replies`: inbound texts and delivery receipts from Vonage's webhooks. */
import type { Job } from "bullmq";
import { type ConversationDeps, handleInbound, handleReceipt } from "../engine/outreach/conversation.ts";
import type { RepliesJob } from "./queues.ts";

export function repliesProcessor(deps: ConversationDeps) {
  return async (job: Job<RepliesJob>) =>
    job.data.kind === "inbound" ? handleInbound(deps, job.data.text) : handleReceipt(deps, job.data.receipt);
}
