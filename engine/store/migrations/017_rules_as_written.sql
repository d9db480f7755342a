-- A version's rule files as their authors wrote them: jsonb sorts an object's keys (shortest
-- first), so a rule read back from it showed "all" before "name" and "event" before "conditions".
-- json keeps the text as given, key order included. Versions stored before stay as jsonb left them.
alter table rulesets alter column rules type json using rules::json;
