"""What a query asks of its tables, read with PostgreSQL's own parser (pglast / libpg_query), and the
index candidates that follow: equality and range filters, join keys, and ORDER BY under a LIMIT.

Pure parsing: no database. Table names stay unresolved (``schema`` None means "the search path");
``index_advisor`` resolves them against the catalog and asks the planner which candidates pay off.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from pglast import ast, parse_sql
from pglast.enums import A_Expr_Kind, BoolExprType, SetOperation, SortByDir, SubLinkType
from pglast.parser import ParseError

MAX_INDEX_COLUMNS = 3
RANGE_OPERATORS = {"<", "<=", ">", ">="}


@dataclass(frozen=True)
class Table:
    """A table a query reads, as written: ``schema`` None when unqualified."""

    schema: str | None
    name: str


@dataclass(frozen=True)
class IndexCandidate:
    """A btree index worth asking the planner about: ``descending`` per column (all False but for mixed
    ORDER BY directions, which a backward scan cannot serve)."""

    table: Table
    columns: tuple[str, ...]
    descending: tuple[bool, ...]
    reason: str  # filter, range, join, order_by, foreign_key


@dataclass
class TableUse:
    """The columns one query level compares to values, joins on, and sorts by (under a LIMIT)."""

    equality: list[str] = field(default_factory=list)
    ranges: list[str] = field(default_factory=list)
    joins: list[str] = field(default_factory=list)
    order_by: list[tuple[str, bool]] = field(default_factory=list)

    def add(self, bucket: list, column) -> None:
        if column not in bucket:
            bucket.append(column)


@dataclass
class QueryShape:
    """Per table, what the query's levels (sub-selects, CTEs and set operations included) ask of it; and,
    per ``$n`` parameter, the column it is compared with (``(table, column)``) or ``"limit"``/``"offset"``."""

    uses: list[tuple[Table, TableUse]] = field(default_factory=list)
    parameters: dict[int, tuple[Table, str] | str] = field(default_factory=dict)


class NotAnalyzable(ValueError):
    """The statement is not a single plain SELECT the advisor can plan (DML, DDL, SELECT INTO, bad SQL)."""


def parse_select(query: str) -> ast.SelectStmt:
    """The query's one SELECT statement; anything else raises ``NotAnalyzable`` saying what it is."""
    try:
        statements = parse_sql(query)
    except ParseError as exc:
        raise NotAnalyzable(f"query does not parse: {exc}") from exc
    if len(statements) != 1:
        raise NotAnalyzable(f"expected one statement, got {len(statements)}")
    stmt = statements[0].stmt
    if not isinstance(stmt, ast.SelectStmt):
        raise NotAnalyzable(f"not a SELECT: {type(stmt).__name__}")
    if stmt.intoClause is not None:
        raise NotAnalyzable("SELECT INTO creates a table")
    for cte in stmt.withClause.ctes if stmt.withClause else ():
        if not isinstance(cte.ctequery, ast.SelectStmt):
            raise NotAnalyzable(f"data-modifying CTE {cte.ctename!r}")
    if stmt.lockingClause:
        raise NotAnalyzable("SELECT ... FOR UPDATE/SHARE takes row locks")
    return stmt


def query_shape(query: str, columns_of: Callable[[Table], set[str]] | None = None) -> QueryShape:
    """The ``QueryShape`` of a SELECT (``NotAnalyzable`` for anything else).

    ``columns_of`` (a catalog lookup) places an unqualified column when several tables are in scope: it
    belongs to the one table that has it. Without it such columns are left out.
    """
    shape = QueryShape()
    _Level(shape, {}, frozenset(), columns_of).select(parse_select(query))
    return shape


def candidate_indexes(shape: QueryShape) -> list[IndexCandidate]:
    """Single- and multi-column candidates per table: each filtered or joined column alone; all equality
    columns; equality columns then the first range column; equality columns then the ORDER BY (LIMIT)."""
    found: list[IndexCandidate] = []

    def add(table: Table, columns: list[str], reason: str, descending: list[bool] | None = None) -> None:
        columns = columns[:MAX_INDEX_COLUMNS]
        flags = tuple((descending or [False] * len(columns))[: len(columns)])
        known = {(c.table, c.columns, c.descending) for c in found}
        if columns and len(set(columns)) == len(columns) and (table, tuple(columns), flags) not in known:
            found.append(IndexCandidate(table, tuple(columns), flags, reason))

    for table, use in shape.uses:
        equality = use.equality[:MAX_INDEX_COLUMNS]
        for column in use.equality:
            add(table, [column], "filter")
        for column in use.ranges:
            add(table, [column], "range")
        for column in use.joins:
            add(table, [column], "join")
        if len(equality) > 1:
            add(table, equality, "filter")
        for column in use.ranges[:1]:
            if column not in equality:
                add(table, equality + [column], "range")
        if use.order_by:
            sort_columns = [c for c, _ in use.order_by if c not in equality]
            flags = [d for c, d in use.order_by if c not in equality]
            mixed = len(set(flags)) > 1
            add(table, equality + sort_columns, "order_by", [False] * len(equality) + flags if mixed else None)
    return found


def _names(nodes) -> list[str]:
    return [n.sval for n in nodes if isinstance(n, ast.String)]


class _Level:
    """One query level: its FROM scope (alias -> table), the enclosing levels' scope (for correlation)
    and the CTE names that shadow tables."""

    def __init__(
        self,
        shape: QueryShape,
        outer: dict[str, Table],
        ctes: frozenset[str],
        columns_of: Callable[[Table], set[str]] | None,
    ):
        self.shape, self.outer, self.ctes, self.columns_of = shape, outer, ctes, columns_of
        self.scope: dict[str, Table] = {}
        self.tables: list[Table] = []
        self.uses: dict[Table, TableUse] = {}

    def nested(self, outer: dict[str, Table]) -> _Level:
        return _Level(self.shape, outer, self.ctes, self.columns_of)

    # --- statements and FROM items -------------------------------------------------------------------
    def select(self, stmt: ast.SelectStmt) -> None:
        ctes = set(self.ctes)
        for cte in stmt.withClause.ctes if stmt.withClause else ():
            ctes.add(cte.ctename)
            _Level(self.shape, self.outer, frozenset(ctes), self.columns_of).select(cte.ctequery)
        self.ctes = frozenset(ctes)
        if stmt.op != SetOperation.SETOP_NONE:
            for side in (stmt.larg, stmt.rarg):
                self.nested(self.outer).select(side)
            return
        for item in stmt.fromClause or ():
            self.from_item(item)
        self.predicate(stmt.whereClause)
        self.predicate(stmt.havingClause, values_only=True)
        for target in stmt.targetList or ():
            self.sublinks(target.val)
        if stmt.limitCount is not None and stmt.sortClause:
            self.order_by(stmt.sortClause)
        self.limit_parameter(stmt.limitCount, "limit")
        self.limit_parameter(stmt.limitOffset, "offset")

    def from_item(self, item) -> None:
        if isinstance(item, ast.RangeVar):
            if item.schemaname is None and item.relname in self.ctes:
                return
            table = Table(item.schemaname, item.relname)
            self.tables.append(table)
            self.scope[item.alias.aliasname if item.alias else item.relname] = table
        elif isinstance(item, ast.JoinExpr):
            self.from_item(item.larg)
            self.from_item(item.rarg)
            self.predicate(item.quals)
            for column in _names(item.usingClause or ()):
                for table in self.tables[-2:]:
                    self.use(table).add(self.use(table).joins, column)
        elif isinstance(item, ast.RangeSubselect):
            outer = {**self.outer, **self.scope} if item.lateral else self.outer
            self.nested(outer).select(item.subquery)

    # --- predicates ------------------------------------------------------------------------------------
    def predicate(self, node, values_only: bool = False) -> None:
        if node is None:
            return
        if isinstance(node, ast.BoolExpr):
            if node.boolop == BoolExprType.AND_EXPR:
                for arg in node.args:
                    self.predicate(arg, values_only)
            else:  # OR / NOT: no single index serves the whole condition; look inside for sub-selects only
                self.sublinks(node)
            return
        if isinstance(node, ast.A_Expr) and not values_only:
            self.comparison(node)
        self.sublinks(node)

    def comparison(self, node: ast.A_Expr) -> None:
        operator = _names(node.name)[-1] if node.name else None
        listed = {
            A_Expr_Kind.AEXPR_BETWEEN: "ranges",
            A_Expr_Kind.AEXPR_BETWEEN_SYM: "ranges",
            A_Expr_Kind.AEXPR_IN: "equality" if operator == "=" else None,
        }
        if node.kind in listed:  # x BETWEEN a AND b, x IN (a, b, ...)
            column = self.column(node.lexpr)
            if listed[node.kind] and column and all(self.is_value(v) for v in node.rexpr):
                self.use(column[0]).add(getattr(self.use(column[0]), listed[node.kind]), column[1])
                for value in node.rexpr:
                    self.parameter(value, column)
            return
        if node.kind not in (A_Expr_Kind.AEXPR_OP, A_Expr_Kind.AEXPR_OP_ANY) or node.lexpr is None:
            return
        left, right = self.column(node.lexpr), self.column(node.rexpr)
        if operator == "=" and node.kind == A_Expr_Kind.AEXPR_OP and left and right and left[0] != right[0]:
            for table, column in (left, right):
                self.use(table).add(self.use(table).joins, column)
            return
        flipped = {"<": ">", ">": "<", "<=": ">=", ">=": "<="}
        for column, value, op in ((left, node.rexpr, operator), (right, node.lexpr, flipped.get(operator, operator))):
            if column and self.is_value(value):
                if op == "=":
                    self.use(column[0]).add(self.use(column[0]).equality, column[1])
                elif op in RANGE_OPERATORS and node.kind == A_Expr_Kind.AEXPR_OP:
                    self.use(column[0]).add(self.use(column[0]).ranges, column[1])
                else:
                    continue
                self.parameter(value, column)
                return

    def order_by(self, sort_clause) -> None:
        keys = []
        for sort in sort_clause:
            column = self.column(sort.node)
            if column is None:
                return  # an expression or an ambiguous column: no plain index serves this sort
            keys.append((column, sort.sortby_dir == SortByDir.SORTBY_DESC))
        tables = {column[0] for column, _ in keys}
        if len(tables) == 1:
            table = tables.pop()
            self.use(table).order_by = [(column[1], desc) for column, desc in keys]

    def sublinks(self, node) -> None:
        """Recurse into every sub-select below ``node``, correlated with this level's scope."""
        if node is None:
            return
        if isinstance(node, ast.SubLink):
            if node.subLinkType == SubLinkType.ANY_SUBLINK and node.testexpr is not None:
                column = self.column(node.testexpr)  # x IN (SELECT ...): a semi-join on x
                if column:
                    self.use(column[0]).add(self.use(column[0]).joins, column[1])
            self.nested({**self.outer, **self.scope}).select(node.subselect)
            return
        if isinstance(node, ast.Node):
            for name in node:
                self.sublinks(getattr(node, name))
        elif isinstance(node, tuple):
            for item in node:
                self.sublinks(item)

    # --- columns, values and parameters ------------------------------------------------------------------
    def column(self, node) -> tuple[Table, str] | None:
        """``(table, column)`` of a plain column reference of this level; None for anything else, for an
        outer (correlated) reference, and for an unqualified column when several tables are in scope."""
        if not isinstance(node, ast.ColumnRef):
            return None
        names = _names(node.fields)
        if len(names) != len(node.fields) or not names:
            return None  # a star
        if len(names) == 1:
            if len(self.tables) == 1:
                return self.tables[0], names[0]
            owners = [t for t in self.tables if self.columns_of and names[0] in self.columns_of(t)]
            return (owners[0], names[0]) if len(owners) == 1 else None
        qualifier = names[-2]
        table = self.scope.get(qualifier)
        if table is None and len(names) == 3:
            table = next((t for t in self.tables if t.name == names[1] and t.schema == names[0]), None)
        if table is None or (len(names) == 3 and table.schema not in (None, names[0])):
            return None
        return table, names[-1]

    def is_value(self, node) -> bool:
        """A constant, a parameter, or an expression of those and of outer-level columns."""
        if isinstance(node, (ast.ParamRef, ast.A_Const)):
            return True
        if isinstance(node, ast.TypeCast):
            return self.is_value(node.arg)
        if isinstance(node, ast.ColumnRef):
            names = _names(node.fields)
            return len(names) >= 2 and names[-2] not in self.scope and names[-2] in self.outer
        if isinstance(node, ast.FuncCall):
            return all(self.is_value(a) for a in node.args or ())
        if isinstance(node, ast.A_Expr):
            return all(self.is_value(s) for s in (node.lexpr, node.rexpr) if s is not None)
        if isinstance(node, ast.A_ArrayExpr):
            return all(self.is_value(e) for e in node.elements or ())
        return False

    def parameter(self, value, column: tuple[Table, str]) -> None:
        while isinstance(value, ast.TypeCast):
            value = value.arg
        if isinstance(value, ast.ParamRef):
            self.shape.parameters.setdefault(value.number, column)

    def limit_parameter(self, node, role: str) -> None:
        while isinstance(node, ast.TypeCast):
            node = node.arg
        if isinstance(node, ast.ParamRef):
            self.shape.parameters.setdefault(node.number, role)

    def use(self, table: Table) -> TableUse:
        if table not in self.uses:
            self.uses[table] = TableUse()
            self.shape.uses.append((table, self.uses[table]))
        return self.uses[table]
