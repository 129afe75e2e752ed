-- The LuaJIT (FFI) use of mmapkit from docs/ffi.md, as a program CTest runs
-- (tests/bindings_test.sh compares its output with expected.txt).
-- Usage: luajit demo.lua LIBRARY FILE
local ffi = require("ffi")
ffi.cdef [[
typedef struct mmapkit_map mmapkit_map;
int mmapkit_anon_private(mmapkit_map **out, size_t len, unsigned flags);
int mmapkit_file_shared(mmapkit_map **out, const char *path, uint64_t offset, size_t len,
                        unsigned flags);
void *mmapkit_ptr(const mmapkit_map *m);
size_t mmapkit_len(const mmapkit_map *m);
int mmapkit_kind(const mmapkit_map *m);
int mmapkit_sync(mmapkit_map *m, size_t off, size_t len, unsigned how);
int mmapkit_punch(mmapkit_map *m, size_t off, size_t len);
void mmapkit_unmap(mmapkit_map *m);
const char *mmapkit_errmsg(void);
const char *mmapkit_strerror(int err);
]]
local lib, path = arg[1], arg[2]
local mk = ffi.load(lib or "libmmapkit.so.0")
-- The header's values (tests/bindings_test.sh checks them against include/mmapkit.h).
local MMAPKIT_CREATE, MMAPKIT_GROW, MMAPKIT_SYNC_FULL = 0x0002, 0x0004, 0x4
-- ((size_t)-1) as a 64-bit literal: a Lua number -1 cast to size_t gives 2^63 in LuaJIT.
local MMAPKIT_TO_END = 0xffffffffffffffffULL

local function check(what, err)
  if err < 0 then
    error(what .. ": " .. ffi.string(mk.mmapkit_errmsg()))
  end
end

local out = ffi.new("mmapkit_map *[1]")
check("mmapkit_file_shared", mk.mmapkit_file_shared(out, path, 0, 8192,
  bit.bor(MMAPKIT_CREATE, MMAPKIT_GROW)))
local m = ffi.gc(out[0], mk.mmapkit_unmap) -- unmapped when collected
ffi.copy(ffi.cast("char *", mk.mmapkit_ptr(m)) + 4096, "from luajit", 11)
check("mmapkit_sync", mk.mmapkit_sync(m, 4096, MMAPKIT_TO_END, MMAPKIT_SYNC_FULL))
print(string.format("file shared: %d bytes, kind %d", tonumber(mk.mmapkit_len(m)),
  mk.mmapkit_kind(m)))
m = nil
collectgarbage()
local f = assert(io.open(path, "rb"))
local data = f:read("*a")
f:close()
print(string.format("file: %d bytes, %q at 4096", #data, data:sub(4097, 4107)))

local err = mk.mmapkit_anon_private(out, 0, 0)
print(string.format("len 0: %d (%s), handle nil: %s", err, ffi.string(mk.mmapkit_strerror(err)),
  tostring(out[0] == nil)))
print("message: " .. ffi.string(mk.mmapkit_errmsg()))

check("mmapkit_anon_private", mk.mmapkit_anon_private(out, 3 * 4096, 0))
local a = ffi.gc(out[0], mk.mmapkit_unmap)
local p = ffi.cast("unsigned char *", mk.mmapkit_ptr(a))
ffi.fill(p, 3 * 4096, 7)
check("mmapkit_punch", mk.mmapkit_punch(a, 100, 4096))
print(string.format("punch: byte 99 = %d, 100..4195 zero = %s, byte 4196 = %d", p[99],
  tostring((function() for i = 100, 4195 do if p[i] ~= 0 then return false end end return true end)()),
  p[4196]))

-- Release the handle before the interpreter closes: at exit LuaJIT may unload the
-- library before it runs the finalizers that would call mmapkit_unmap.
a = nil
collectgarbage()
