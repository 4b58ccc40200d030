-- tables.lua - a pandoc filter for the man pages (docs/man/README.md): a table becomes a
-- list that fits 80 columns, one item per row: the row's first cell, then each other cell,
-- after its column's header ("devices that: ...") when there are more than two columns.
-- tbl tables of long text do not fit a terminal and make man -l warn.

-- In a pipe table `a\|b` is how code holds a "|"; the backslash is not part of the code.
local unescape = {Code = function(c) c.text = c.text:gsub("\\|", "|") return c end}

local function cell_inlines(cell)
  local out = pandoc.List()
  local blocks = pandoc.walk_block(pandoc.Div(cell.contents), unescape).content
  for i, block in ipairs(blocks) do
    if i > 1 then out:insert(pandoc.Space()) end
    if block.content then out:extend(block.content) end
  end
  return out
end

function Table(t)
  local headers = {}
  if t.head and t.head.rows and t.head.rows[1] then
    for i, cell in ipairs(t.head.rows[1].cells) do headers[i] = cell_inlines(cell) end
  end
  local items = pandoc.List()
  for _, body in ipairs(t.bodies) do
    for _, row in ipairs(body.body) do
      local term = cell_inlines(row.cells[1])
      local defs = pandoc.List()
      for i = 2, #row.cells do
        local line = pandoc.List()
        if #row.cells > 2 and headers[i] and #headers[i] > 0 then
          line:extend(headers[i])
          line:insert(pandoc.Str(":"))
          line:insert(pandoc.Space())
        end
        line:extend(cell_inlines(row.cells[i]))
        defs:insert(pandoc.Para(line))
      end
      items:insert({term, {defs}})
    end
  end
  return pandoc.DefinitionList(items)
end
