/** Processor for queue `replies`: what customers answer (texts, WhatsApp, the app, the keypad), delivery receipts and call states. */
import type { Job } from "bullmq";
import { type CallDeps, handleCallEvent, handleKeypad } from "../engine/outreach/calls.ts";
import { handleAppAnswer, handleInbound, handleReceipt } from "../engine/outreach/conversation.ts";
import type { RepliesJob } from "./queues.ts";

export function repliesProcessor(deps: CallDeps) {
  return async (job: Job<RepliesJob>) => {
    const data = job.data;
    switch (data.kind) {
      case "inbound":
        return handleInbound(deps, data.text);
      case "status":
        return handleReceipt(deps, data.receipt);
      case "answer":
        return handleAppAnswer(deps, data.answer);
      case "keypad":
        return handleKeypad(deps, data);
      case "call":
        return handleCallEvent(deps, data.event, data.messageId);
    }
  };
}
