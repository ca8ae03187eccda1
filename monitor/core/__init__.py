"""The pure core: plain domain types and functions over plain data (extract, normalise,
diff, match, judge, render). Nothing here reads the network, the disk or the database."""
