-- Who wrote an outbound text: null for touchpoint's own (checks, reminders, answers), the
-- advocate's id for a text an advocate typed on the case.
alter table messages add column author text;
