# One bar chart per section, from the plot data mmapkit_bench writes (--out DIR):
# a row per case, three columns (median, low, high) per variant.
#   gnuplot -e "dat='DIR/create.dat'; out='x.png'; ncol=5; ylab='ns per op'; ttl='...'; logy=1" plot.gp
if (!exists("logy")) logy = 0
set terminal pngcairo size 1100,560 font "DejaVu Sans,10" noenhanced
set output out
set title ttl
set ylabel ylab
set key outside right top vertical
# More distinct colours than gnuplot's eight, for the sections with many variants.
set linetype 9 lc rgb "#8c564b"
set linetype 10 lc rgb "#7f7f7f"
set linetype 11 lc rgb "#bcbd22"
set linetype 12 lc rgb "#17becf"
set linetype cycle 12
set style data histogram
set style histogram errorbars gap 2 lw 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set grid ytics
set xtics rotate by -20 nomirror
set yrange [0:*]
if (logy) set logscale y; set yrange [*:*]
plot for [i=0:ncol-1] dat using (column(2+3*i)):(column(3+3*i)):(column(4+3*i)):xtic(1) \
	title columnhead(2+3*i)
