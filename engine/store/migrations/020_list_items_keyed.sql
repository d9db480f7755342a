-- List items as lookups compare them (listKey, engine/rules/lists.ts: trimmed as JavaScript trims,
-- then Unicode NFC). Lists made before listKey existed may hold an item padded with spaces or with a
-- decomposed accent ("e" + U+0301): it never matched a fact, and a PATCH naming it (normalised)
-- could not remove it. Each is rewritten to its key; one whose key the list already holds goes.
-- Postgres normalises only in a UTF8 database, the only kind that can hold such an item.
do $$
declare
  -- What String.prototype.trim removes: white space and line terminators, and the BOM.
  ws text := E' \t\n\u000b\f\r\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff';
begin
  if current_setting('server_encoding') <> 'UTF8' then
    return;
  end if;
  create temporary table keyed on commit drop as
    select list_name, item, normalize(btrim(item, ws), nfc) as key from list_items;
  -- Per list and key, the item already in its key's form is kept, else the first in order.
  delete from list_items i using (
    select list_name, item, key, row_number() over (partition by list_name, key order by item = key desc, item) as n
    from keyed
  ) k
  where i.list_name = k.list_name and i.item = k.item and (k.n > 1 or k.key = '');
  update list_items i set item = k.key
    from keyed k
    where i.list_name = k.list_name and i.item = k.item and k.item <> k.key;
  update lists l set size = (select count(*) from list_items i where i.list_name = l.name)
    where size <> (select count(*) from list_items i where i.list_name = l.name);
end $$;
