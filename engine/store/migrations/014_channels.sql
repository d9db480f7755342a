-- Issue 23: reaching the customer on the channel they answer.
-- A customer's ordered channel preference; SMS then an automated call unless they say otherwise.
alter table customers add column channels text[] not null default '{sms,voice}';
-- Opt-out is per channel: STOP on SMS (opted_out_at) stops texts, STOP on WhatsApp stops WhatsApp.
alter table customers add column whatsapp_opted_out_at timestamptz;
-- Where a call to the customer's advocate is connected: E.164, or a SIP URI.
alter table advocates add column phone text;
-- Every contact is a row of the conversation, whatever its channel: a call's states are its
-- status, its keypad answers and duration its details.
alter table messages add column channel text not null default 'sms'
  check (channel in ('sms', 'whatsapp', 'voice', 'app'));
alter table messages add column details jsonb;
alter table messages drop constraint messages_transport_check;
alter table messages add constraint messages_transport_check check (transport in ('vonage', 'outbox', 'app'));
