"""Prefetching inside Numba kernels: ask the CPU to start loading memory that a loop will read soon.

Why the fused kernels need it: a shuffled batch visits its reviews in random order, so each
review's entries (``Bags.ids`` and ``Bags.counts``) start somewhere new in arrays of 10-20 MB. The
first read of each review then waits for main memory (~150 ns on an AMD EPYC here) before the
hardware prefetcher notices the stream and fetches the rest. Asking for the next-but-one review's
first cache lines while the current one is summed overlaps that wait with useful work.

A prefetch is only a hint: it never changes a result and never raises, whatever the address; on a
CPU without such an instruction LLVM drops it. The NumPy references need nothing like it.
"""
import numba
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

CACHE_LINE = 64          # bytes loaded together from memory (x86-64 and most ARM cores)


@intrinsic
def prefetch(typingctx, array, index):
    """prefetch(array, index) in a Numba kernel: start loading array[index] (1-D array) into the caches."""
    if not isinstance(array, types.Array) or array.ndim != 1 or not isinstance(index, types.Integer):
        return None                                  # Numba then reports no matching signature

    def codegen(context, builder, signature, args):
        array_type, index_type = signature.args
        view = context.make_array(array_type)(context, builder, args[0])
        position = context.cast(builder, args[1], index_type, types.intp)      # any integer type
        address = cgutils.get_item_pointer(context, builder, array_type, view, [position], wraparound=False)
        byte_pointer = ir.IntType(8).as_pointer()
        llvm_prefetch = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [byte_pointer] + [ir.IntType(32)] * 3),
            "llvm.prefetch.p0")
        # llvm.prefetch(address, 0 = for reading, 3 = keep in every cache level, 1 = data, not code)
        builder.call(llvm_prefetch, [builder.bitcast(address, byte_pointer)]
                     + [ir.Constant(ir.IntType(32), flag) for flag in (0, 3, 1)])
        return context.get_dummy_value()

    return types.void(array, index), codegen


@numba.njit(inline="always")
def prefetch_range(array, start, stop):
    """In a Numba kernel: prefetch array[start:stop] (1-D), one hint per cache line."""
    step = max(1, CACHE_LINE // array.itemsize)
    for i in range(start, stop, step):
        prefetch(array, i)
