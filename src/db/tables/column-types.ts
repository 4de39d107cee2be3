import type { ColumnType } from 'kysely';

// Column shapes shared by every table file. Kysely reads a column's select, insert and update types
// from ColumnType<S, I, U>; jsonb is written as a JSON string (the driver would otherwise send a JS
// array as a PostgreSQL array) and read back as whatever was stored.
export type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
export type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
export type Json = ColumnType<unknown, string | undefined, string>;
export type JsonRequired = ColumnType<unknown, string, string>;
export type TextArray = ColumnType<string[], string[] | undefined, string[]>;
