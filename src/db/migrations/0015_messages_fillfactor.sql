-- Room on each page of `messages` for the next version of its rows. A message is updated three or
-- four times after it is stored (processing, sent, delivered, ...); with full pages every new version
-- goes to another page and every one of the table's eight indexes, the GIN over to_identifiers
-- included, gets a new entry for it. With room on the page, an update that changes no indexed column
-- (a receipt: status, timestamps, parts) is a HOT update that touches no index, and the others at
-- least stay on their page. The cost: the table takes about a third more pages.
alter table messages set (fillfactor = 70);
